"""The seeded billing simulator, a fixed budget of histories (``make simulate`` runs more).

Each history drives users, providers, the gateway, operators and the chores over a
real redis-server (its own database), with crashes injected at Redis commands and
races interleaved command by command; the oracle checks the invariants after every
step. A failure names its seed: ``python -m tests.simulator --seed S --log``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.simulator.run import history
from tests.support import ROOT

SEEDS = range(1, 21)  # about 2 s each on this machine
SIM_DB = 15  # apart from the database the other tests flush


@pytest.mark.timeout(600)
async def test_simulated_histories_keep_every_invariant(redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + f"/{SIM_DB}"
    broken = []
    for seed in SEEDS:
        outcome = await history(url, seed)
        assert outcome.steps == 200
        if outcome.violation:
            broken.append(f"seed {seed}: {outcome.violation}\n" + "\n".join(outcome.log[-15:]))
    assert broken == [], "\n\n".join(broken)


def simulate(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.simulator", *argv]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_simulate_deals_seeds_to_jobs_and_adds_their_histories_up() -> None:
    done = simulate("--seeds", "3", "--first", "7", "--steps", "10", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "simulator: 3 histories, 30 steps" in done.stdout


def test_simulate_refuses_jobs_it_cannot_run() -> None:
    for argv in (["--jobs", "0"], ["--jobs", "2", "--redis", "redis://127.0.0.1:1/0"]):
        refused = simulate(*argv)
        assert refused.returncode == 2
        assert "--jobs takes a number from 1" in refused.stderr

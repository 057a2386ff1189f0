"""The seeded billing simulator, a fixed budget of histories (``make simulate`` runs more).

Each history drives users, providers, the gateway, operators and the chores over a
real redis-server (its own database), with crashes injected at Redis commands and
races interleaved command by command; the oracle checks the invariants after every
step. A failure names its seed: ``python -m tests.simulator --seed S --log``.
"""

from __future__ import annotations

import pytest

from tests.simulator.run import history

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

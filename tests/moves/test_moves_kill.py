"""SIGKILL a real process at every step of a move; the repair chore (the real ``accountbot
chore repair``) finishes it: everything arrives once, nothing is charged twice."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from accountbot.stack import Stack
from payments.moves.rules import STEPS, Step
from payments.stores import Store
from tests.support.moves import MOVED_AT, assert_moved, dump_all, main_worth_moving, offer_code


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("step", STEPS)
async def test_a_move_killed_at_a_step_is_finished_by_the_repair(
    redis_stack: Stack, real_store: Store, step: Step
) -> None:
    before = await main_worth_moving(real_store)
    code = await offer_code(real_store)
    child = run([sys.executable, "-m", "tests.support.moves_kill_child", redis_stack.redis.url,
                 code, step.value])  # fmt: skip
    assert child.returncode == -9, child.stderr
    cli = [sys.executable, "-m", "accountbot", "--config", str(redis_stack.config_path)]
    when = (MOVED_AT + timedelta(hours=1)).isoformat()
    repaired = run([*cli, "chore", "repair", "--now", when])
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "finish_account_move" in repaired.stdout
    await assert_moved(real_store, before)
    after = await dump_all(real_store)
    again = run([*cli, "chore", "repair", "--now", when])
    assert again.returncode == 0 and "finish_account_move" not in again.stdout
    assert await dump_all(real_store) == after  # nothing left to do: nothing changed

"""``accountbot admin move OLD NEW`` as operators run it, against the real redis-server."""

from __future__ import annotations

import subprocess
import sys

from accountbot.stack import Stack
from payments.stores import Store
from tests.support.moves import LEAF, NEW, OLD, assert_moved, main_worth_moving


def admin(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "accountbot", "--config", str(stack.config_path), "admin"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, check=False)


async def test_an_operator_moves_an_account_and_a_jid_in_use_is_refused_with_why(
    redis_stack: Stack, real_store: Store
) -> None:
    before = await main_worth_moving(real_store)
    refused = admin(redis_stack, "move", OLD, LEAF)
    assert refused.returncode != 0
    assert refused.stdout.startswith(f"{OLD}: not moved: {LEAF} is an account already")
    moved = admin(redis_stack, "move", OLD, NEW)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert moved.stdout == f"{OLD}: moved to {NEW}; {OLD} has no account now\n"
    await assert_moved(real_store, before)
    again = admin(redis_stack, "move", OLD, "other@example.org")
    assert again.returncode != 0 and "no open account" in again.stdout

"""`accountbot admin number ...` run as operators run it, against the real redis-server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from accountbot.stack import Stack
from payments import keys
from tests.support.stores import sync_redis

Run = Callable[..., subprocess.CompletedProcess[str]]
ALICE, BOB = "alice@localhost", "bob@localhost"


@pytest.fixture
def cli(redis_stack: Stack) -> Iterator[Run]:
    client = sync_redis(redis_stack.redis.url)
    client.flushdb()
    at = datetime(2026, 1, 5, tzinfo=UTC).isoformat()
    for jid in (ALICE, BOB):
        client.hset(
            keys.account(jid),
            mapping={"kind": "trial", "status": "active", "registered_at": at, "plan": "trial"},
        )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "accountbot", "--config", str(redis_stack.config_path), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    yield run
    client.close()


def test_assign_show_and_release_a_number(cli: Run) -> None:
    done = cli("admin", "number", "assign", "Alice@Localhost", "+1 555 010 0199")
    assert done.returncode == 0 and done.stdout.strip() == f"{ALICE}: +15550100199"
    assert cli("admin", "number", "show", "+15550100199").stdout.strip() == (
        f"+15550100199: {ALICE}"
    )
    assert cli("admin", "number", "show", ALICE).stdout.strip() == f"{ALICE}: +15550100199"
    taken = cli("admin", "number", "assign", BOB, "+15550100199")
    assert taken.returncode == 1 and f"is assigned to {ALICE}" in taken.stderr
    released = cli("admin", "number", "release", ALICE)
    assert released.returncode == 0 and "released +15550100199" in released.stdout
    free = cli("admin", "number", "show", "+15550100199")
    assert free.returncode == 1 and free.stdout.strip() == "+15550100199: free"
    assert cli("admin", "number", "assign", BOB, "+15550100199").returncode == 0


def test_a_malformed_number_or_an_unknown_account_is_refused(cli: Run) -> None:
    bad = cli("admin", "number", "assign", ALICE, "5550100199")
    assert bad.returncode == 2 and "E.164" in bad.stderr
    nobody = cli("admin", "number", "assign", "nobody@localhost", "+15550100199")
    assert nobody.returncode == 1 and "no active account" in nobody.stderr
    assert cli("admin", "number", "show", "+15550100199").returncode == 1

"""``accountbot chore archive-ledger`` and ``admin reconcile --archive`` as operators run them,
against the real redis-server and the stack's archive directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest

from accountbot.stack import Stack
from payments import keys
from payments.clock import utcnow
from tests.cli.test_cli_admin import Cli
from tests.support.stores import sync_redis
from tests.support.streams import entries

ALICE = "alice@localhost"
# 15 months on, the default [ledger] keep_months (13) leaves nothing of today in Redis.
LATER = (utcnow() + timedelta(days=31 * 15)).isoformat()


@pytest.fixture
def cli(redis_stack: Stack) -> Iterator[Cli]:
    client = sync_redis(redis_stack.redis.url)
    client.flushdb()
    shutil.rmtree(redis_stack.root / "ledger-archive", ignore_errors=True)
    # ALICE has an account: the chore walks the registry of accounts
    client.sadd(keys.shard(keys.ACCOUNTS, keys.shard_of(ALICE, keys.DEFAULT_SHARDS)), ALICE)
    yield Cli(redis_stack.config_path, client, redis_stack.redis.url)
    client.close()
    shutil.rmtree(redis_stack.root / "ledger-archive", ignore_errors=True)


def test_the_chore_archives_once_and_reconcile_stays_exact(cli: Cli, redis_stack: Stack) -> None:
    cli("admin", "credit", ALICE, "20", "--reason", "test", "--ref", "r1")
    cli("admin", "debit", ALICE, "5", "--reason", "test")
    first = cli("chore", "archive-ledger", "--now", LATER)
    assert first.returncode == 0, first.stdout + first.stderr
    [brought] = entries(cli.redis.xrange(keys.transactions(ALICE)))
    assert (brought[1]["kind"], brought[1]["amount"]) == ("archived", "150000")
    assert list((redis_stack.root / "ledger-archive").rglob("*.jsonl.gz"))
    again = cli("chore", "archive-ledger", "--now", LATER)
    assert again.returncode == 0, again.stdout + again.stderr
    assert entries(cli.redis.xrange(keys.transactions(ALICE))) == [brought]
    for deep in ((), ("--archive",)):
        ok = cli("admin", "reconcile", *deep)
        assert ok.returncode == 0 and "1 accounts checked, 0 mismatches" in ok.stdout, ok.stdout
    replay = cli("admin", "credit", ALICE, "20", "--reason", "test", "--ref", "r1")
    assert "already applied" in replay.stdout
    cli.redis.incrby(keys.balance_prepaid(ALICE), 1)
    for deep in ((), ("--archive",)):
        assert cli("admin", "reconcile", *deep).returncode == 1


def test_chore_all_runs_the_archive_last(cli: Cli) -> None:
    cli("admin", "credit", ALICE, "20", "--reason", "test")
    done = cli("chore", "all", "--now", LATER)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("archive-ledger")
    assert entries(cli.redis.xrange(keys.transactions(ALICE)))[0][1]["kind"] == "archived"

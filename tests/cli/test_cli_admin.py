"""`accountbot admin ...` run as operators run it, against the real redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from accountbot.stack import Stack
from payments import keys
from payments.stores import Store
from tests.support.stores import sync_redis

ALICE = "alice@localhost"


@dataclass
class Cli:
    """``accountbot --config CONFIG ...`` as a subprocess, and the Redis it writes to."""

    config: Path
    redis: redis.Redis | redis.RedisCluster
    url: str

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "accountbot", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def cli(redis_stack: Stack) -> Iterator[Cli]:
    client = sync_redis(redis_stack.redis.url)
    client.flushdb()
    yield Cli(redis_stack.config_path, client, redis_stack.redis.url)
    client.close()


def test_credit_with_a_ref_twice_credits_once(cli: Cli) -> None:
    first = cli("admin", "credit", ALICE, "20", "--reason", "test", "--ref", "r1")
    second = cli("admin", "credit", ALICE, "20", "--reason", "test", "--ref", "r1")
    assert first.returncode == 0 and "credited $20.00" in first.stdout
    assert second.returncode == 0 and "already applied" in second.stdout
    assert cli.redis.get(keys.balance_prepaid(ALICE)) == "200000"
    show = cli("admin", "show", ALICE)
    assert show.returncode == 0
    assert "prepaid  $20.00" in show.stdout
    assert show.stdout.count("[ref r1]") == 1 and "test" in show.stdout


def test_an_operator_credit_tells_the_user_where_they_stand_once(cli: Cli) -> None:
    """Issue 12, point 7: an operator's credit to a trial says what it added and what
    still activates the account, once per credit (a replayed ref tells nobody again)."""
    now = datetime.now(UTC)
    asyncio.run(a_trial(cli, ALICE, now))
    for _ in range(2):
        done = cli("admin", "credit", ALICE, "5", "--reason", "goodwill", "--ref", "g1")
        assert done.returncode == 0, done.stderr
    entries: Any = cli.redis.xrange(keys.OUTBOX)
    told = [fields for _id, fields in entries]
    assert [(t["to"], t["kind"]) for t in told] == [(ALICE, "operator_credit")]
    assert told[0]["body"] == (
        "We added $5.00 to your account. Balance: $5.00."
        " $15.00 more makes it a paid account: send 'topup'."
    )


async def a_trial(cli: Cli, jid: str, now: datetime) -> None:
    store = Store.from_url(cli.url)
    await store.accounts.register_trial(jid, now, 30)
    await store.close()


def test_reconcile_names_an_account_changed_by_hand(cli: Cli) -> None:
    cli("admin", "credit", ALICE, "20", "--reason", "test")
    cli("admin", "credit", "bob@localhost", "5", "--reason", "test", "--voucher")
    ok = cli("admin", "reconcile")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 accounts checked, 0 mismatches" in ok.stdout
    cli.redis.incrby(keys.balance_prepaid(ALICE), 1)
    bad = cli("admin", "reconcile")
    assert bad.returncode == 1
    assert ALICE in bad.stdout and "bob@localhost" not in bad.stdout


@pytest.mark.parametrize("amount", ["-5", "1e3", "12.345678", "١٢", "abc", "0", "1000000"])
def test_bad_amounts_are_refused_and_change_nothing(cli: Cli, amount: str) -> None:
    cli("admin", "credit", ALICE, "1", "--reason", "start")
    before = cli.redis.get(keys.balance_prepaid(ALICE)), cli.redis.xlen(keys.transactions(ALICE))
    for action in ("credit", "debit"):
        result = cli("admin", action, ALICE, "--reason", "x", "--", amount)
        assert result.returncode == 2
        assert "amount" in result.stderr or "most accepted" in result.stderr
        assert result.stderr.count("\n") == 1  # one line, no traceback
    after = cli.redis.get(keys.balance_prepaid(ALICE)), cli.redis.xlen(keys.transactions(ALICE))
    assert after == before


def test_debit_says_what_is_missing(cli: Cli) -> None:
    cli("admin", "credit", ALICE, "5", "--reason", "start")
    result = cli("admin", "debit", ALICE, "8", "--reason", "too much")
    assert result.returncode == 1 and "$3.00 missing" in result.stderr
    assert cli.redis.get(keys.balance_prepaid(ALICE)) == "50000"


def test_bad_jid_and_bad_config_are_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli("admin", "credit", "not a jid", "5", "--reason", "x")
    assert result.returncode == 2 and "JID" in result.stderr
    broken = tmp_path / "c.toml"
    broken.write_text("[xmpp]\nsecrett = 'x'\n")
    result = subprocess.run(
        [sys.executable, "-m", "accountbot", "--config", str(broken), "admin", "reconcile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "accountbot: [xmpp] secrett: unknown key"


def test_refund_gives_money_back_once_never_more_than_is_there(cli: Cli) -> None:
    cli("admin", "credit", ALICE, "20", "--reason", "test", "--ref", "r1")
    refund = ["admin", "refund", ALICE, "15", "--reason", "closed, asked for it", "--ref", "t-9"]
    refund.append("--outside")  # money given back by bank transfer: a ledger entry only
    first, again = cli(*refund), cli(*refund)
    assert first.returncode == 0 and "refunded $15.00" in first.stdout
    assert again.returncode == 0 and "already refunded" in again.stdout
    assert cli.redis.get(keys.balance_prepaid(ALICE)) == "50000"
    too_much = cli("admin", "refund", ALICE, "6", "--reason", "x", "--ref", "t-10", "--outside")
    assert too_much.returncode == 1 and "$1.00 missing" in too_much.stderr
    missing_ref = cli("admin", "refund", ALICE, "1", "--reason", "x")
    assert missing_ref.returncode == 2 and "--ref" in missing_ref.stderr
    entries: Any = cli.redis.xrevrange(keys.transactions(ALICE), count=1)
    fields = entries[0][1]
    assert (fields["kind"], fields["amount"], fields["ref"]) == ("refund", "-150000", "refund:t-9")
    assert "0 mismatches" in cli("admin", "reconcile").stdout


def test_a_credit_not_yet_on_its_replica_says_so_and_how_to_finish(
    cli: Cli, redis_stack: Stack, tmp_path: Path
) -> None:
    """With a replica asked for and none in sync, the credit is written but not reported
    done: exit 1 and what to do; run again with its ref, it applies nothing more."""
    strict = redis_stack.write_config(
        path=tmp_path / "strict.toml",
        redis={"url": redis_stack.redis.url, "wait_replicas": 1, "wait_timeout_ms": 20},
    )
    credit = ["admin", "credit", ALICE, "20", "--reason", "test"]
    behind = Cli(strict, cli.redis, cli.url)(*credit, "--ref", "r7")
    assert behind.returncode == 1 and behind.stdout == ""
    assert behind.stderr.strip() == (
        "accountbot: written, but not yet safe: on 0 of 1 replicas after 20 ms; "
        "run the same command again: --ref r7 applies it once"
    )
    no_ref = Cli(strict, cli.redis, cli.url)(*credit)
    assert "check 'accountbot admin show alice@localhost' before running it again" in (
        no_ref.stderr
    )
    again = cli(*credit, "--ref", "r7")
    assert again.returncode == 0 and "already applied" in again.stdout
    assert cli.redis.get(keys.balance_prepaid(ALICE)) == "400000"  # r7 once, and the no-ref one

"""``accountbot chore`` and ``accountbot admin plan/freeze/unfreeze`` as operators run them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from accountbot.cli import main
from accountbot.stack import Stack
from payments.accounts.records import FreezeKind
from payments.billing.freezes import freeze_unpaid
from payments.billing.renewal import renew_account
from payments.ledger.records import EntryKind
from payments.stores import Store
from tests.support.billing import (
    T0,
    account_of,
    basic_plan,
    cycle_of,
    days,
    paid_account,
    top_up,
    usd,
)
from tests.support.stores import run_on_store

T = TypeVar("T")
A, B, C, D = (f"{name}@localhost" for name in ("alice", "bob", "carol", "dave"))


class Cli:
    def __init__(self, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = str(stack.config_path)
        self.url = stack.redis.url
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--config", self.config, *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def run(self, work: Callable[[Store], Awaitable[T]]) -> T:
        return run_on_store(self.url, work)


@pytest.fixture
def cli(redis_stack: Stack, capsys: pytest.CaptureFixture[str]) -> Cli:
    cli = Cli(redis_stack, capsys)
    cli.run(lambda s: s.redis.flushdb())
    return cli


async def every_chore_has_work(store: Store) -> None:
    """A renewal, a freeze, a closure, an ended trial and reminders are all due at T0 + 140d."""
    await basic_plan(store, "10")
    for jid in (A, B, C):
        await paid_account(store, jid, T0, "20")
        await store.ledger.debit(jid, usd("10"), reason="spent", kind=EntryKind.DEBIT)
    cycle = cycle_of(store)
    await renew_account(cycle, C, T0 + days(31))  # C: unpaid since Feb, frozen in Feb
    await freeze_unpaid(cycle, C, T0 + days(40))
    await renew_account(cycle, B, T0 + days(125))  # B: unpaid, grace over by T0 + 140d
    await store.accounts.register_trial(D, T0 + days(100), 30)  # D: trial ended
    await store.redis.hset(
        f"payment-account-{{{A}}}", "next_renewal_at", (T0 + days(139)).isoformat()
    )


async def dump_all(store: Store) -> dict[str, Any]:
    keys = sorted([k async for k in store.redis.scan_iter(count=1000)])
    return {k: await store.redis.dump(k) for k in keys}


def test_a_dry_run_says_what_would_change_and_changes_nothing(cli: Cli) -> None:
    cli.run(every_chore_has_work)
    before = cli.run(dump_all)
    when = (T0 + days(140)).isoformat()
    code, out, _ = cli("chore", "all", "--dry-run", "--now", when)
    assert code == 0
    assert f"would charge {A} 2026-05: basic $10.00" in out
    assert f"would freeze {B} (unpaid)" in out
    assert f"would freeze {D} (trial ended)" in out
    assert f"would close {C}" in out
    assert f"would tell {B}: Reminder: you owe $40.00." in out
    summaries = [line for line in out.splitlines() if "dry run: nothing changed" in line]
    assert [line.split(":")[0] for line in summaries] == [
        "repair",
        "renew",
        "cards",
        "freeze",
        "close",
        "remind",
        "settle-usage",
        "expire-credits",
        "reward-referrals",
        "archive-ledger",
    ]
    assert cli.run(dump_all) == before
    code, out, _ = cli("chore", "all", "--now", when)
    assert code == 0 and "nothing changed" not in out
    assert cli.run(dump_all) != before
    closed = cli.run(lambda s: s.accounts.get(C))
    assert closed is not None and closed.closed


def test_bad_now_is_refused_in_one_line(cli: Cli) -> None:
    code, _, err = cli("chore", "renew", "--now", "next tuesday")
    assert code == 2 and "ISO 8601" in err and err.count("\n") == 1


def test_plan_catalog_from_the_command_line(cli: Cli) -> None:
    code, _, err = cli("admin", "plan", "set", "basic", "--price", "10")
    assert code == 2 and "plan basic is new: it needs a price and a name" in err
    code, _, err = cli("admin", "plan", "set", "Bad Id", "--price", "10", "--name", "x")
    assert code == 2 and "plan id" in err
    code, out, _ = cli(
        "admin", "plan", "set", "basic", "--price", "10", "--name", "Basic",
        "--allowance", "sms=100", "--allowance", "voice_minutes=60",
    )  # fmt: skip
    assert code == 0 and "basic  v1  $10.00/month  Basic  (sms 100, voice_minutes 60)" in out
    code, out, _ = cli("admin", "plan", "set", "basic", "--price", "12.5")
    assert code == 0 and "v2  $12.50/month  Basic  (sms 100, voice_minutes 60)" in out
    code, out, _ = cli("admin", "plan", "set", "basic", "--price", "12.50")
    assert code == 0 and out.startswith("unchanged")
    cli("admin", "plan", "set", "lite", "--price", "4", "--name", "Lite")
    code, out, _ = cli("admin", "plan", "list")
    assert [line.split()[0] for line in out.splitlines()] == ["lite", "basic"]
    code, out, _ = cli("admin", "plan", "list", "--versions")
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["lite", "v1"],
        ["basic", "v1"],
        ["basic", "v2"],
    ]


def test_operator_freeze_and_unfreeze(cli: Cli) -> None:
    async def setup(store: Store) -> None:
        await basic_plan(store, "10")
        await paid_account(store, A, T0, "20")

    cli.run(setup)
    code, out, _ = cli("admin", "freeze", A, "--kind", "legal", "--reason", "court order 12")
    assert code == 0 and "frozen (legal)" in out
    code, out, _ = cli("admin", "freeze", A, "--kind", "legal", "--reason", "again")
    assert code == 0 and "already frozen" in out
    cli.run(lambda s: top_up(s, A, "50", T0 + days(1)))  # payment never lifts it
    records = cli.run(lambda s: s.freezes.records(A))
    assert list(records) == [FreezeKind.LEGAL] and records[FreezeKind.LEGAL].why == "court order 12"
    assert records[FreezeKind.LEGAL].who.startswith("cli:")
    assert records[FreezeKind.LEGAL].state["kind"] == "paid"
    code, out, _ = cli("admin", "unfreeze", A, "--kind", "violation")
    assert code == 1 and "no violation freeze" in out
    code, out, _ = cli("admin", "unfreeze", A, "--kind", "legal")
    assert code == 0 and "legal freeze lifted" in out and "court order 12" in out
    assert not cli.run(lambda s: account_of(s, A)).frozen
    code, out, _ = cli("admin", "freeze", "nobody@localhost", "--kind", "legal", "--reason", "x")
    assert code == 1 and "no active account" in out

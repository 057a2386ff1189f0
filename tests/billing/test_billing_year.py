"""One account through a year of billing, driven by ``accountbot chore ... --now``.

Register, the trial ends, a top-up of the activation amount activates it,
twelve renewals charge the snapshotted price although an operator raised
it, a renewal with too little money opens an invoice, grace with reminders,
freeze, a top-up settles and unfreezes at once, and later a closure. The
ledger tells the whole story and the outbox holds every notification
(tests/bot/test_billing_e2e.py walks the same year with the real bot
delivering each notification through Prosody to Alice's client).
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from accountbot.cli import main
from accountbot.stack import Stack
from payments import keys
from payments.accounts.records import Account, AccountKind, FreezeKind
from payments.billing.payment import credit_account
from payments.config import load_config
from payments.ledger.archive import LedgerArchive
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from tests.support.billing import account_of, outbox, usd
from tests.support.stores import run_on_store

ALICE = "alice@localhost"
T = TypeVar("T")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class World:
    """The stack's Redis and config, a chore runner and a store for looking."""

    def __init__(self, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        self.config_path = str(stack.config_path)
        self.config = load_config(self.config_path)
        self.url = stack.redis.url
        # A world starts with an empty Redis (its fixture flushes it) and no archive: the
        # stack's archive directory may hold an earlier test's months.
        shutil.rmtree(self.config.ledger.archive_dir, ignore_errors=True)
        self.capsys = capsys

    def run(self, work: Callable[[Store], Awaitable[T]]) -> T:
        return run_on_store(self.url, work)

    def cli(self, *args: str) -> str:
        self.capsys.readouterr()
        code = main(["--config", self.config_path, *args])
        out = self.capsys.readouterr().out
        assert code == 0, out
        return out

    def chore(self, name: str, when: str) -> str:
        return self.cli("chore", name, "--now", at(when).isoformat())

    def top_up(self, amount: str, when: str, ref: str) -> None:
        async def work(store: Store) -> None:
            await credit_account(
                store,
                ALICE,
                usd(amount),
                reason="payment via test",
                kind=EntryKind.PAYMENT,
                ref=ref,
                actor="provider:test",
                at=at(when),
                policy=self.config.billing,
            )

        self.run(work)

    def notifications(self) -> list[tuple[str, str]]:
        """(kind, body) of every notification Alice got, oldest first."""
        return [(n.kind, n.body) for n in self.run(lambda s: outbox(s, ALICE))]

    def kinds(self) -> list[str]:
        return [kind for kind, _body in self.notifications()]

    def account(self) -> Account:
        return self.run(lambda s: account_of(s, ALICE))

    def balance(self) -> Money:
        async def work(store: Store) -> Money:
            return (await store.ledger.balances(ALICE)).prepaid

        return self.run(work)


@pytest.fixture
def world(redis_stack: Stack, capsys: pytest.CaptureFixture[str]) -> World:
    world = World(redis_stack, capsys)
    world.run(lambda s: s.redis.flushdb())
    return world


def test_a_year_of_billing(world: World) -> None:
    walk_a_year(world)


def walk_a_year(world: World) -> None:
    out = world.cli("admin", "plan", "set", "basic", "--price", "10", "--name", "Basic")
    assert "v1  $10.00/month" in out and "  Basic" in out  # (a CAD price may be listed between)

    async def register(store: Store) -> None:
        assert await store.accounts.register_trial(ALICE, at("2026-01-05T09:00"), 30)
        await store.redis.hset(keys.account(ALICE), "number", "+15550100")

    world.run(register)

    # The trial: a notice a week before its end, then frozen when it ends.
    assert "0 due" in world.chore("all", "2026-01-20T00:00").splitlines()[-1]
    out = world.chore("remind", "2026-01-29T00:00")
    assert "1 trial_ending" in out
    out = world.chore("all", "2026-02-04T10:00")
    assert "1 trial_frozen" in out
    assert world.account().freezes == {FreezeKind.BILLING}

    # A top-up of the activation amount or more activates it at once.
    world.top_up("130", "2026-02-10T12:00", ref="pay-1")
    account = world.account()
    assert account.kind is AccountKind.PAID and not account.frozen
    assert account.next_renewal_at == at("2026-03-10T12:00")
    assert world.balance() == usd("120")

    # The operator raises the price; Alice keeps the price she bought at.
    out = world.cli("admin", "plan", "set", "basic", "--price", "15")
    assert "v2  $15.00/month" in out
    renewals = [f"{2026 + (m > 12)}-{(m - 1) % 12 + 1:02d}-10T12:00" for m in range(3, 15)]
    for when in renewals:
        out = world.chore("all", when)
        assert "1 renewed" in out and "$10.00 charged" in out, out
        assert "1 renewed" not in world.chore("renew", when)  # the same day again: nothing
    assert world.balance() == usd("0")

    # A week before the 13th renewal: the balance will not cover it.
    assert "1 low_balance" in world.chore("all", "2027-03-03T12:00")
    out = world.chore("all", "2027-03-10T12:00")
    assert "1 invoiced" in out and "$0.00 charged" in out
    assert "1 unpaid_reminder" not in world.chore("all", "2027-03-16T12:00")
    out = world.chore("all", "2027-03-17T12:00")
    assert "1 frozen" in out and "1 unpaid_reminder" in out
    assert world.account().freezes == {FreezeKind.BILLING}

    # Paying unfreezes at once, in the same flow as the credit.
    world.top_up("10", "2027-03-20T08:00", ref="pay-2")
    assert not world.account().frozen
    assert world.run(lambda s: s.billing.owed(ALICE)) == usd("0")

    # Then nobody pays again: invoice, grace, freeze, reminders, warning, closure.
    world.chore("all", "2027-04-10T12:00")
    world.chore("all", "2027-04-17T12:00")
    for when in ("2027-04-24", "2027-05-01", "2027-05-10", "2027-06-10", "2027-07-10"):
        out = world.chore("all", when + "T13:00")
        assert "1 closed" not in out
        # No invoice for a month spent frozen: the renewal is held until it pays.
        assert ("1 held" in out) == (when == "2027-05-10"), out
    out = world.chore("all", "2027-07-16T12:00")
    assert "1 closed" in out, out
    account = world.account()
    assert account.closed and account.number == ""

    # The months before [ledger] keep_months went to the archive: the story is read whole.
    archive = LedgerArchive(Path(load_config(Path(world.config_path)).ledger.archive_dir))
    story = world.run(lambda s: Store(s.redis, archive=archive).ledger.all_entries(ALICE))
    lines = [(e.kind.value, e.amount, e.reason) for e in story]
    assert lines == [
        ("payment", usd("130"), "payment via test"),
        ("charge", -usd("10"), "basic 2026-02"),
        *[("charge", -usd("10"), f"basic {when[:7]}") for when in renewals],
        ("payment", usd("10"), "payment via test"),
        ("charge", -usd("10"), "invoice 2027-03 paid"),
    ]
    assert sum(e.amount.units for e in story) == world.balance().units == 0
    invoices = world.run(lambda s: Store(s.redis, archive=archive).billing.invoices(ALICE, 30))
    assert [(i.period, i.open) for i in invoices[:2]] == [("202704", True), ("202703", False)]
    assert len(invoices) == 15  # Feb 2026 .. Apr 2027; none while frozen

    assert world.kinds() == [
        "trial_ending",
        "trial_ended",
        "unfrozen",
        "plan_activated",
        *["renewal_done"] * 12,
        "low_balance",
        "renewal_failed",
        "frozen",  # `chore all` freezes before it reminds
        "unpaid_reminder",
        "invoice_paid",
        "unfrozen",
        "renewal_failed",
        "frozen",
        *["unpaid_reminder"] * 6,  # one per run of the chore a week or more apart
        "closure_warning",
        "closed",
    ]
    _kind, closed = world.notifications()[-1]
    assert "+15550100" in closed

"""Shared helpers of the billing tests (tests/test_billing_*.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from payments import keys
from payments.accounts.records import Account
from payments.billing.cycle import Cycle, default_policy
from payments.billing.payment import CreditOutcome, credit_account
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.notices import Notice
from payments.stores import Store
from tests.support.streams import stream

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = default_policy("USD")


def usd(amount: str) -> Money:
    whole, _, frac = amount.partition(".")
    return Money(int(whole) * 10_000 + int((frac or "0").ljust(4, "0")))


def days(n: float) -> timedelta:
    return timedelta(days=n)


def cycle_of(store: Store, actor: str = "chore:test") -> Cycle:
    return Cycle(store, POLICY, actor)


async def basic_plan(store: Store, price: str = "10", plan_id: str = "basic") -> None:
    await store.plans.put(plan_id, at=T0, price=usd(price), name=plan_id.title())


async def account_of(store: Store, jid: str) -> Account:
    """The account the test made for ``jid``: a missing one fails the test here."""
    account = await store.accounts.get(jid)
    assert account is not None, f"no account for {jid}"
    return account


async def top_up(store: Store, jid: str, amount: str, at: datetime, ref: str = "") -> CreditOutcome:
    return await credit_account(
        store,
        jid,
        usd(amount),
        reason="top-up",
        kind=EntryKind.PAYMENT,
        ref=ref,
        at=at,
        policy=POLICY,
    )


async def paid_account(store: Store, jid: str, at: datetime = T0, amount: str = "20") -> None:
    """A registered account activated by a top-up at ``at`` (first month charged)."""
    await store.accounts.register_trial(jid, at, POLICY.trial_days)
    outcome = await top_up(store, jid, amount, at)
    assert outcome.settlement.activated


async def outbox(store: Store, to: str | None = None) -> list[Notice]:
    notes = [Notice.decode(eid, fields) for eid, fields in await stream(store.redis, keys.OUTBOX)]
    return [n for n in notes if to is None or n.to == to]


async def kinds(store: Store, to: str) -> list[str]:
    return [n.kind for n in await outbox(store, to)]


RENEWAL_DUE = T0 + timedelta(days=31)  # the first renewal of accounts activated at T0


async def many_due_accounts(store: Store, count: int, *, groups: int = 0) -> list[str]:
    """``count`` paid accounts due to renew at RENEWAL_DUE; the first ``groups`` pay for 2 leaves.

    Balances vary: most cover the renewal, every 7th does not (an invoice),
    every 5th pays part from a voucher.
    """
    await basic_plan(store, "10")
    plan = await store.plans.get("basic")
    assert plan is not None
    jids = [f"user{i:05d}@example.org" for i in range(count)]

    async def one(i: int, jid: str) -> None:
        await paid_account(store, jid, T0, "20")
        if i % 7 == 0:
            await store.ledger.debit(jid, usd("6"), reason="spent", kind=EntryKind.DEBIT)
        if i % 5 == 0:
            await store.ledger.credit(jid, usd("3"), reason="voucher", balance=Balance.VOUCHER)
        if i < groups:
            index = await store.groups.create(jid)
            for n in range(2):
                leaf = f"leaf{i:05d}-{n}@example.org"
                await store.accounts.register_trial(leaf, T0, 30)
                await store.groups.join(index, jid, leaf, plan, at=T0)
                await store.ledger.credit(jid, usd("10"), reason="for a leaf")

    batch = 50
    for start in range(0, count, batch):
        await asyncio.gather(*(one(i, jids[i]) for i in range(start, min(start + batch, count))))
    return jids


async def charged_once(store: Store, jids: list[str], period: str) -> None:
    """Every account was billed exactly once for ``period``, its books add up, it moved on."""
    for jid in jids:
        assert await store.ledger.check(jid) == [], jid
        entries = await store.ledger.entries(jid)
        refs = [e.ref for e in entries if e.ref.startswith(f"renew:{period}:")]
        assert len(refs) == len(set(refs)), jid
        invoice = await store.billing.invoice(jid, period)
        assert invoice is not None, jid
        group = await store.groups.of(jid)
        members = group.members if group is not None else (jid,)
        assert [ln.member for ln in invoice.lines] == sorted(members, key=lambda m: (m != jid, m))
        assert invoice.total == usd("10") * len(members), jid
        charged = -sum(e.amount.units for e in entries if e.ref.startswith(f"renew:{period}:"))
        assert charged == invoice.paid.units, jid  # no settlement happens in these tests
        assert invoice.paid + invoice.due == invoice.total, jid
        account = await store.accounts.get(jid)
        assert account is not None and account.next_renewal_at == datetime(
            2026, 3, 5, 9, tzinfo=UTC
        ), jid

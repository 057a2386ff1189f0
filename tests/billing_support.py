"""Shared helpers of the billing tests (tests/test_billing_*.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from payments import keys
from payments.cycle import Cycle, default_policy
from payments.flows import CreditOutcome, credit_account
from payments.ledger import EntryKind
from payments.money import Money
from payments.store import Store
from payments.store.outbox import Notification

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


async def outbox(store: Store, to: str | None = None) -> list[Notification]:
    raw: Any = await store.redis.xrange(keys.OUTBOX)
    notes = [Notification.decode(eid, fields) for eid, fields in raw]
    return [n for n in notes if to is None or n.to == to]


async def kinds(store: Store, to: str) -> list[str]:
    return [n.kind for n in await outbox(store, to)]

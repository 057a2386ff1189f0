"""Shared helpers of the usage and credit tests (tests/test_usage_*.py, tests/test_credits_*.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from payments.clock import month_of, month_start, shift_month
from payments.config import UsageConfig
from payments.ledger.records import EntryKind, LedgerEntry
from payments.money import Money
from payments.stores import Store
from payments.usage.flow import Meter
from payments.usage.rules import UsageEvent
from tests.support.billing import POLICY, paid_account, usd

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; slot 06:00
USAGE = UsageConfig()
A, B, LEAF = "alice@example.org", "bob@example.org", "leaf@example.org"


def meter(store: Store, actor: str = "test") -> Meter:
    return Meter(store, USAGE, actor)


async def sms_plan(store: Store, sms: int = 100, voice: int = 300, price: str = "10") -> None:
    """The default plan (``basic``) with an allowance of SMS and voice minutes."""
    await store.plans.put(
        "basic",
        at=T0,
        price=usd(price),
        name="Basic",
        allowances={"sms": sms, "voice_minutes": voice},
    )


async def sms_pack(
    store: Store, quantity: int = 1000, price: str = "10", pack_id: str = "sms1000"
) -> None:
    await store.packs.put(pack_id, at=T0, resource="sms", quantity=quantity, price=usd(price))


async def customer(store: Store, jid: str = A, at: datetime = T0, amount: str = "40") -> None:
    """A paid account on ``basic`` (activated by a top-up: the first month charged)."""
    await paid_account(store, jid, at, amount)


def events(
    jid: str, count: int, *, resource: str = "sms", at: datetime = T0, prefix: str = "e"
) -> list[UsageEvent]:
    return [UsageEvent(f"{prefix}{i}", jid, resource, 1, at) for i in range(count)]


def batch(
    jid: str,
    count: int,
    *,
    resource: str = "sms",
    at: datetime = T0,
    prefix: str = "e",
    quantity: int = 1,
) -> dict[str, Any]:
    return {
        "events": [
            {
                "event_id": f"{prefix}{i}",
                "jid": jid,
                "resource": resource,
                "quantity": quantity,
                "at": at.isoformat(),
            }
            for i in range(count)
        ]
    }


def next_month(at: datetime) -> datetime:
    """The first instant of the month after ``at``'s: the month's first settlement writes
    the credits used in the month before to the ledger."""
    return month_start(shift_month(month_of(at), 1))


def of_kind(entries: Iterable[LedgerEntry], *kinds: EntryKind) -> list[LedgerEntry]:
    return [e for e in entries if e.kind in kinds]


def money(units: int) -> Money:
    return Money(units)


__all__ = ["POLICY"]

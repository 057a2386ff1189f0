"""Property: whatever batches (replayed, overlapping), purchases, settlements and expiries
happen, usage is counted once, credits never go negative, credits are conserved and the
books add up. On fakeredis (the same Lua scripts), for speed."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import fakeredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import keys
from payments.clock import month_of
from payments.config import UsageConfig
from payments.errors import InsufficientFunds
from payments.stores import Store
from payments.usage.flow import buy_pack, expire_account, ingest, settle_account
from payments.usage.rules import UsageEvent, counted_month
from tests.support.billing import top_up
from tests.support.streams import stream
from tests.support.usage import T0, A, customer, meter, next_month, sms_pack, sms_plan


@dataclass(frozen=True)
class Step:
    action: str  # usage | buy | settle | expire | wait
    ids: tuple[int, ...]  # event ids of a usage batch (repeats are replays)
    quantity: int
    hours: int


steps = st.lists(
    st.builds(
        Step,
        action=st.sampled_from(["usage", "usage", "usage", "buy", "settle", "expire", "wait"]),
        ids=st.lists(st.integers(0, 40), min_size=1, max_size=8).map(tuple),
        quantity=st.integers(1, 9),
        hours=st.integers(0, 24 * 60),
    ),
    max_size=20,
)


async def run(plan: list[Step]) -> None:
    store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
    try:
        await check_story(store, plan)
    finally:
        await store.close()


LATE_DAYS = UsageConfig().late_days


class Model:
    """What should have been counted: an event id counts once, within the window of
    ``[usage] late_days``; a replay keeps its first quantity and ``at``."""

    def __init__(self) -> None:
        self.sent: dict[int, tuple[int, datetime]] = {}
        self.counted_in: dict[int, str] = {}
        self.used: dict[str, int] = {}

    def batch(self, ids: tuple[int, ...], quantity: int, now: datetime) -> list[UsageEvent]:
        events = []
        for i in ids:
            q, at = self.sent.setdefault(i, (quantity, now))
            events.append(UsageEvent(f"e{i}", A, "sms", q, at))
            month = counted_month(at, now, LATE_DAYS)
            if month is not None and i not in self.counted_in:  # counted once, ever
                self.counted_in[i] = month
                self.used[month] = self.used.get(month, 0) + q
        return events


async def check_story(store: Store, plan: list[Step]) -> None:
    await sms_plan(store, sms=20)
    await sms_pack(store, quantity=15, price="1")
    await customer(store, amount="40")
    await top_up(store, A, "100", T0)
    m, model = meter(store), Model()
    now, granted = T0, 0
    for step in plan:
        if step.action == "usage":
            await ingest(m, model.batch(step.ids, step.quantity, now), now)
        elif step.action == "buy":
            with contextlib.suppress(InsufficientFunds):
                await buy_pack(m, A, "sms1000", now, actor=A)
                granted += 15
        elif step.action == "settle":
            await settle_account(m, A, now)
        elif step.action == "expire":
            await expire_account(m, A, now, send=True)
        else:
            now += timedelta(hours=step.hours)
        await check_invariants(store, model)
    # Settle everything left, in slots of their own, and account for every credit.
    await settle_account(m, A, now + timedelta(hours=6))
    await settle_account(m, A, now + timedelta(hours=12))
    await settle_account(m, A, next_month(now + timedelta(hours=12)))  # credits used written
    await check_invariants(store, model)
    await check_settled(store, model, granted)


async def check_invariants(store: Store, model: Model) -> None:
    assert await store.ledger.check(A) == []
    grants = await store.credits.grants(A)
    assert all(0 <= g.left <= g.quantity for g in grants)
    for month, total in model.used.items():
        counters = await store.usage.month(A, month)
        assert int(counters.get("used:sms", 0)) == total, month


async def check_settled(store: Store, model: Model, granted: int) -> None:
    raw = await stream(store.redis, keys.transactions(A))
    zero = [fields for _, fields in raw if fields["amount"] == "0"]

    def total(kind: str, needle: str = "") -> int:
        return sum(int(f["quantity"]) for f in zero if f["kind"] == kind and needle in f["reason"])

    for month, used in model.used.items():  # every unit counted once, in its month's counters
        counters = await store.usage.month(A, month)
        assert int(counters.get("used:sms", 0)) == used, month
    assert await store.usage.open_months(A) == []  # every month settled and closed
    left = sum(g.left for g in await store.credits.grants(A))
    assert total("credits_used") + total("expired") + left == granted  # none appear or vanish
    assert await store.redis.hgetall(keys.credit_pending(A)) == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_usage_and_credits_always_add_up(plan: list[Step]) -> None:
    asyncio.run(run(plan))


def test_month_of_is_the_utc_month() -> None:
    assert month_of(T0) == "202603"

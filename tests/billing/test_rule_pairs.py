"""Rules written twice, in Python and in Lua, held against each other on random inputs.

Two pairs are left. ``rules.split_charge`` (voucher first, then prepaid, the rest owed)
is what a dry run and the low-balance notice preview; ``renew.lua`` applies it. The
calendar (``clock.add_months``, ``month_of``) is what Python schedules by; ``renew.lua``
dates a renewal with ``lib/dates.lua``, since Redis has no clock library. Every
other rule has one source: the script where it must run inside Redis (Python reads
its result), Python where Python decides (the script only applies it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import fakeredis
from hypothesis import given, settings
from hypothesis import strategies as st

from accountbot.stack import RedisServer
from payments.billing.rules import ChargeLine, RenewalDates, split_charge
from payments.billing.store import RenewalRequest
from payments.clock import add_months, day_label, epoch, from_epoch, month_of
from payments.ledger.records import Balance
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import T0, usd

A = "a@x"
units = st.integers(0, 300_000)
Splits = list[tuple[int, int, int]]  # (from voucher, from prepaid, owed) per line


@settings(max_examples=80, deadline=None)
@given(units, units, st.integers(0, 200_000), st.lists(st.integers(0, 200_000), max_size=4))
def test_the_preview_splits_every_line_as_the_renewal_does(
    voucher: int, prepaid: int, own: int, leaves: list[int]
) -> None:
    previewed = preview(voucher, prepaid, [own, *leaves])
    applied = asyncio.run(renew(voucher, prepaid, own, leaves))
    assert applied == previewed


def preview(voucher: int, prepaid: int, amounts: list[int]) -> Splits:
    v, p, splits = Money(voucher), Money(prepaid), []
    for amount in amounts:
        split = split_charge(Money(amount), v, p)
        v, p = v - split.voucher, p - split.prepaid
        splits.append((split.voucher.units, split.prepaid.units, split.due.units))
    return splits


async def renew(
    voucher: int, prepaid: int, own: int, leaves: list[int]
) -> list[tuple[int, int, int]]:
    store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
    await store.accounts.register_trial(A, T0, 30)
    plan, _ = await store.plans.put("basic", at=T0, price=Money(own), name="Basic")
    await store.billing.activate(A, plan, at=T0, renewal_day=5, activation=usd("0"))
    for amount, balance in ((voucher, Balance.VOUCHER), (prepaid, Balance.PREPAID)):
        if amount:
            await store.ledger.credit(A, Money(amount), reason="t", balance=balance)
    sub = await store.billing.subscriber(A)
    assert sub is not None
    lines = tuple(ChargeLine(f"leaf{i}@x", "basic", Money(a)) for i, a in enumerate(leaves))
    dates = RenewalDates("202602", datetime(2026, 3, 5, tzinfo=UTC))
    request = RenewalRequest(A, sub.fields, dates, lines, None, T0 + timedelta(days=31), "t")
    renewal = await store.billing.renew(request)
    await store.close()
    return [(s.voucher.units, s.prepaid.units, s.due.units) for _, s in renewal.lines]


# --- dates: payments/clock.py and lua/lib/dates.lua -------------------------------------

DATES_PROBE = (
    resources.files("payments.store").joinpath("lua", "lib", "dates.lua").read_text("utf-8")
    + """
local ts, day = tonumber(ARGV[1]), tonumber(ARGV[2])
return {next_month(ts, day), month_of(ts), day_label(ts), iso_instant(ts)}
"""
)
instants = st.datetimes(datetime(1999, 1, 1), datetime(2200, 12, 31)).map(
    lambda at: at.replace(microsecond=0, tzinfo=UTC)
)


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(1, 31))
def test_the_renewal_script_dates_a_month_as_python_does(
    redis_server: RedisServer, at: datetime, day: int
) -> None:
    """The 'due' renewal computes its period and the following date inside Redis (Lua 5.1,
    no os.date): the same instants as clock.add_months / month_of, on the real server."""
    following, month, label, iso = asyncio.run(probe(redis_server.url, epoch(at), day))
    assert from_epoch(int(following)) == add_months(at, 1, day)
    assert (month, label, iso) == (month_of(at), day_label(at), at.isoformat())


async def probe(url: str, ts: int, day: int) -> list[Any]:
    redis = open_redis(url)
    try:
        reply: Any = await redis.eval(DATES_PROBE, 0, ts, day)
        return list(reply)
    finally:
        await redis.aclose()

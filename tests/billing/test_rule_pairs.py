"""Rules written twice, in Python and in Lua, held against each other on random inputs.

One pair is left: ``rules.split_charge`` (voucher first, then prepaid, the rest owed)
is what a dry run and the low-balance notice preview; ``renew.lua`` applies it. Every
other rule has one source: the script where it must run inside Redis (Python reads
its result), Python where Python decides (the script only applies it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import fakeredis
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.billing.rules import ChargeLine, RenewalDates, split_charge
from payments.billing.store import RenewalRequest
from payments.ledger.records import Balance
from payments.money import Money
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

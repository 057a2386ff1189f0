"""Property: whatever credits, debits, renewals and payments happen, the books add up."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import fakeredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.billing.payment import pay_invoices
from payments.billing.renewal import renew_account
from payments.errors import InsufficientFunds
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import T0, basic_plan, cycle_of, days, paid_account, top_up, usd

A = "alice@example.org"


@dataclass(frozen=True)
class Step:
    action: str  # topup | voucher | debit | renew | pay | price
    units: int
    advance_days: int


steps = st.lists(
    st.builds(
        Step,
        action=st.sampled_from(["topup", "voucher", "debit", "renew", "renew", "pay", "price"]),
        units=st.integers(min_value=1, max_value=300_000),
        advance_days=st.integers(min_value=0, max_value=40),
    ),
    max_size=25,
)


async def apply(store: Store, step: Step, now_days: int) -> None:
    now, cycle = T0 + days(now_days), cycle_of(store)
    if step.action == "topup":
        await top_up(store, A, f"{step.units // 10_000}.{step.units % 10_000:04d}", now)
    elif step.action == "voucher":
        await store.ledger.credit(A, Money(step.units), reason="v", balance=Balance.VOUCHER)
    elif step.action == "debit":
        with contextlib.suppress(InsufficientFunds):
            await store.ledger.debit(A, Money(step.units), reason="d", kind=EntryKind.DEBIT)
    elif step.action == "renew":
        await renew_account(cycle, A, now)
    elif step.action == "pay":
        await pay_invoices(cycle, A, now)
    else:
        await store.plans.put("basic", at=now, price=Money(step.units))


async def check_books(store: Store) -> None:
    assert await store.ledger.check(A) == []  # each balance is the sum of its entries
    balances = await store.ledger.balances(A)
    assert balances.prepaid.units >= 0 and balances.voucher.units >= 0
    invoices = await store.billing.invoices(A, count=100)
    open_due = {period: due for period, due in await store.billing.open_invoices(A)}
    assert {i.period: i.due for i in invoices if i.open} == open_due
    assert await store.billing.owed(A) == sum(open_due.values(), Money(0))
    entries = await store.ledger.entries(A)
    charged = -sum((e.amount.units for e in entries if e.kind is EntryKind.CHARGE), 0)
    assert charged == sum(i.paid.units for i in invoices)  # every charge is on an invoice
    for invoice in invoices:
        assert invoice.total == invoice.paid + invoice.due
        assert invoice.due.units >= 0 and (invoice.due.units > 0) == invoice.open
        assert invoice.total == sum((ln.amount for ln in invoice.lines), Money(0))
        assert all(Money(0) <= ln.paid <= ln.amount for ln in invoice.lines)
        assert len({ln.member for ln in invoice.lines}) == len(invoice.lines)
    refs = [e.ref for e in entries if e.ref]
    assert len(refs) == len(set(refs))  # no (period, member, balance) charged twice
    account = await store.accounts.get(A)
    assert account is not None
    subscriber = await store.billing.subscriber(A)
    assert subscriber is not None
    unpaid = subscriber.state.unpaid_since
    assert (unpaid is not None) == bool(open_due)


async def run_steps(store: Store, sequence: list[Step]) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    elapsed = 0
    for step in sequence:
        elapsed += step.advance_days
        await apply(store, step, elapsed)
        await check_books(store)
    assert usd("0") <= (await store.ledger.balances(A)).total


PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(sequence=steps)
def test_books_add_up_on_fakeredis(sequence: list[Step]) -> None:
    async def body() -> None:
        store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
        await run_steps(store, sequence)
        await store.close()

    asyncio.run(body())


@settings(PROPERTY, max_examples=15)
@given(sequence=steps)
def test_books_add_up_on_real_redis(redis_url: str, sequence: list[Step]) -> None:
    async def body() -> None:
        store = Store(open_redis(redis_url))
        await store.redis.flushdb()
        await run_steps(store, sequence)
        await store.close()

    asyncio.run(body())

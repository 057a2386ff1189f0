"""Billing in Redis, the same bodies against fakeredis and the real redis-server."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from payments import keys
from payments.accounts.freeze_store import FreezeIf, Frozen, LiftIf
from payments.accounts.records import FreezeKind, FreezeRecord
from payments.billing.rules import RenewalDates
from payments.billing.store import RenewalRequest, RenewStatus
from payments.ledger.records import Balance
from payments.store.locks import _started
from payments.stores import Store
from tests.support.billing import T0, basic_plan, days, usd

A = "alice@example.org"
P = "202602"


async def paid_account(store: Store, jid: str, price: str = "10") -> None:
    """A paid account on a plan of ``price``, due for renewal at T0 (activated with nothing)."""
    await store.accounts.register_trial(jid, T0, 30)
    plan, _ = await store.plans.put("basic", at=T0, price=usd(price), name="Basic")
    activated = await store.billing.activate(jid, plan, at=T0, renewal_day=5, activation=usd("0"))
    assert activated.done


async def renewal_of(store: Store, jid: str, period: str, at: datetime) -> RenewalRequest:
    sub = await store.billing.subscriber(jid)
    assert sub is not None
    following = datetime(int(period[:4]), int(period[4:]), 5, tzinfo=UTC) + days(31)
    dates = RenewalDates(period, following)
    return RenewalRequest(jid, sub.fields, dates, (), None, at, "chore:renew")


async def test_renewal_takes_voucher_then_prepaid_and_invoices_the_rest(store: Store) -> None:
    await paid_account(store, A)
    await store.ledger.credit(A, usd("3"), reason="v", balance=Balance.VOUCHER)
    await store.ledger.credit(A, usd("4"), reason="p")
    request = await renewal_of(store, A, P, T0)
    first = await store.billing.renew(request)
    assert first.status is RenewStatus.RENEWED and first.due == usd("3")
    [(line, split)] = first.lines
    assert (line.member, line.amount) == (A, usd("10"))
    assert (split.voucher, split.prepaid, split.due) == (usd("3"), usd("4"), usd("3"))
    again = await store.billing.renew(request)  # the date moved on: a replay changes nothing
    assert again.status is RenewStatus.CHANGED and again.lines == ()
    entries = await store.ledger.entries(A)
    assert [(e.amount, e.balance, e.ref) for e in entries[2:]] == [
        (-usd("3"), Balance.VOUCHER, f"renew:{P}:{A}:voucher"),
        (-usd("4"), Balance.PREPAID, f"renew:{P}:{A}:prepaid"),
    ]
    assert await store.ledger.check(A) == []
    invoice = await store.billing.invoice(A, P)
    assert invoice is not None and invoice.open
    assert (invoice.total, invoice.paid, invoice.due) == (usd("10"), usd("7"), usd("3"))
    assert await store.billing.open_invoices(A) == [(P, usd("3"))]
    sub = await store.billing.subscriber(A)
    assert sub is not None and sub.state.unpaid_since == T0 and sub.state.last_period == P
    assert await store.schedules.at(keys.UNPAID, A) == T0  # written with the renewal


async def test_a_fully_paid_renewal_leaves_a_paid_invoice_and_no_debt(store: Store) -> None:
    await paid_account(store, A)
    await store.ledger.credit(A, usd("10"), reason="p")
    result = await store.billing.renew(await renewal_of(store, A, P, T0))
    assert result.due == usd("0") and result.balance == usd("0")
    invoice = await store.billing.invoice(A, P)
    assert invoice is not None and not invoice.open and invoice.paid == usd("10")
    assert await store.billing.open_invoices(A) == []
    assert [i.period for i in await store.billing.invoices(A)] == [P]


async def test_a_billing_frozen_renewal_is_held_and_bills_nothing(store: Store) -> None:
    await paid_account(store, A)
    await store.ledger.credit(A, usd("10"), reason="p")
    record = FreezeRecord(FreezeKind.BILLING, "t", T0, "test")
    await store.freezes.freeze(A, record, FreezeIf.ANY)
    held = await store.billing.renew(await renewal_of(store, A, P, T0))
    assert held.status is RenewStatus.HELD and held.lines == ()
    sub = await store.billing.subscriber(A)
    assert sub is not None and sub.state.renewal_held == T0 and sub.account.next_renewal_at == T0
    assert await store.billing.invoices(A) == [] and await store.ledger.check(A) == []


async def test_settle_pays_in_full_or_not_at_all_and_clears_the_debt(store: Store) -> None:
    await paid_account(store, A, "10")
    await store.billing.renew(await renewal_of(store, A, "202602", T0))
    await store.plans.put("basic", at=T0, price=usd("5"))
    await store.billing.set_next_plan(A, "basic")
    plan = await store.plans.get("basic")
    request = await renewal_of(store, A, "202603", T0 + days(31))
    await store.billing.renew(
        RenewalRequest(A, request.fields, request.dates, (), plan, request.at, "t")
    )
    assert [p for p, _ in await store.billing.open_invoices(A)] == ["202603", "202602"]
    await store.ledger.credit(A, usd("4"), reason="p")
    refused = await store.billing.settle(A, "202603", at=T0, actor="t")
    assert not refused.paid and refused.missing == usd("1")
    assert (await store.ledger.balances(A)).prepaid == usd("4")
    await store.ledger.credit(A, usd("2"), reason="v", balance=Balance.VOUCHER)
    paid = await store.billing.settle(A, "202603", at=T0, actor="t")
    assert (
        paid.paid and (paid.voucher, paid.prepaid) == (usd("2"), usd("3")) and paid.open_left == 1
    )
    replay = await store.billing.settle(A, "202603", at=T0, actor="t")
    assert not replay.paid and replay.missing == usd("0")
    await store.ledger.credit(A, usd("9"), reason="p")
    assert (await store.billing.settle(A, "202602", at=T0, actor="t")).open_left == 0
    assert await store.billing.owed(A) == usd("0")
    sub = await store.billing.subscriber(A)
    assert sub is not None and sub.state.unpaid_since is None
    assert (await store.ledger.balances(A)).prepaid == usd("0")
    assert await store.ledger.check(A) == []


async def test_a_price_change_is_a_new_version_and_the_old_one_stays(store: Store) -> None:
    await basic_plan(store, "10")
    plan, changed = await store.plans.put("basic", at=T0 + days(1), price=usd("12"))
    assert changed and plan.version == 2 and plan.name == "Basic" and plan.price == usd("12")
    same, changed = await store.plans.put("basic", at=T0 + days(2), price=usd("12"))
    assert not changed and same.version == 2
    assert [p.price for p in await store.plans.versions("basic")] == [usd("10"), usd("12")]
    first, current = await store.plans.version("basic", 1), await store.plans.get("basic")
    assert first is not None and first.price == usd("10")
    assert current is not None and current.version == 2


async def test_chore_lock_is_exclusive_and_released_only_by_its_holder(store: Store) -> None:
    first, second = store.locks.chore("renew"), store.locks.chore("renew")
    assert await first.acquire()
    assert not await second.acquire()
    assert not await second.release()
    assert await first.refresh() and await first.holder() == first.token
    assert await first.release()
    assert await second.acquire()
    assert not await first.refresh()


async def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(store: Store) -> None:
    host, parent = socket.gethostname(), os.getppid()
    dead = f"{host}:{2**22 + 12345}:1:feed"  # above pid_max: never alive
    reused = f"{host}:{parent}:1:feed"  # that pid is another process now
    alive = f"{host}:{parent}:{_started(parent)}:feed"
    elsewhere = f"another-host:{os.getpid()}:1:feed"
    for name, token in (("renew", dead), ("remind", reused)):
        await store.redis.set(keys.chore_lock(name), token, px=60_000)
        assert await store.locks.chore(name).acquire()
    for name, token in (("freeze", alive), ("close", elsewhere)):
        await store.redis.set(keys.chore_lock(name), token, px=60_000)
        assert not await store.locks.chore(name).acquire()  # wait for its release or TTL


async def test_freeze_conditions_are_checked_in_the_same_step(store: Store) -> None:
    record = FreezeRecord(FreezeKind.BILLING, "chore:freeze", T0, "unpaid")
    assert await store.freezes.freeze(A, record, FreezeIf.ANY) is Frozen.NO_ACCOUNT
    await store.accounts.register_trial(A, T0, 30)
    ends = (T0 + days(30)).isoformat()  # the trial's end as the chore read it
    assert await store.freezes.freeze(A, record, FreezeIf.OWING, T0.isoformat()) is Frozen.NOT_NOW
    assert await store.freezes.freeze(A, record, FreezeIf.TRIAL, T0.isoformat()) is Frozen.NOT_NOW
    assert await store.freezes.freeze(A, record, FreezeIf.TRIAL, ends) is Frozen.ADDED
    assert await store.freezes.freeze(A, record, FreezeIf.TRIAL, ends) is Frozen.ALREADY
    # A trial's billing freeze is lifted by its activation, not by a payment.
    assert await store.freezes.lift(A, FreezeKind.BILLING, LiftIf.PAID) is None
    assert await store.freezes.lift(A, FreezeKind.BILLING, LiftIf.ANY) == record
    assert await store.freezes.records(A) == {}


async def test_groups_join_and_detach(store: Store) -> None:
    await basic_plan(store, "10")
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    assert await store.groups.create(A) == index
    await store.accounts.register_trial("b@x", T0, 30)
    assert await store.groups.join(index, A, "b@x", plan, at=T0) == 1
    assert await store.groups.join(index, A, "b@x", plan, at=T0) == 0
    assert await store.groups.join(index, A, "new@x", plan, at=T0) == 1
    group = await store.groups.of("b@x")
    assert group is not None and group.members == (A, "b@x", "new@x")
    leaf = await store.accounts.get("new@x")
    assert leaf is not None and leaf.kind.value == "leaf"
    record = FreezeRecord(FreezeKind.BILLING, "t", T0, "payer closed")
    assert await store.groups.detach(index, "b@x", record, at=T0)
    assert not await store.groups.detach(index, "b@x", record, at=T0)
    group = await store.groups.of(A)
    assert group is not None and group.leaves == ("new@x",)
    detached = await store.accounts.get("b@x")
    assert detached is not None and detached.kind.value == "trial" and detached.frozen

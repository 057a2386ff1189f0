"""Billing in Redis, the same bodies against fakeredis and the real redis-server."""

from __future__ import annotations

import os
import socket

from payments import keys
from payments.accounts.freeze_store import FreezeIf, Frozen, LiftIf
from payments.accounts.records import FreezeKind
from payments.billing.rules import ChargeLine, FreezeRecord
from payments.ledger.records import Balance
from payments.store.locks import _started
from payments.stores import Store
from tests.support.billing import T0, basic_plan, days, usd

A = "alice@example.org"
P = "202602"


async def test_charge_takes_voucher_then_prepaid_and_invoices_the_rest(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    await store.ledger.credit(A, usd("3"), reason="v", balance=Balance.VOUCHER)
    await store.ledger.credit(A, usd("4"), reason="p")
    line = ChargeLine(A, "basic", usd("10"))
    first = await store.billing.charge_line(A, P, line, at=T0, actor="chore:renew")
    assert first.applied
    assert (first.split.voucher, first.split.prepaid, first.split.due) == (
        usd("3"),
        usd("4"),
        usd("3"),
    )
    assert first.invoice_due == usd("3")
    again = await store.billing.charge_line(A, P, line, at=T0 + days(1), actor="chore:renew")
    assert not again.applied and again.split == first.split and again.invoice_due == usd("3")
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
    subscriber = await store.billing.subscriber(A)
    assert subscriber is not None and subscriber.state.unpaid_since == T0


async def test_a_fully_paid_line_leaves_a_paid_invoice_and_no_debt(store: Store) -> None:
    await store.ledger.credit(A, usd("10"), reason="p")
    line = ChargeLine(A, "basic", usd("10"))
    result = await store.billing.charge_line(A, P, line, at=T0, actor="t")
    assert result.split.due == usd("0") and result.invoice_due == usd("0")
    invoice = await store.billing.invoice(A, P)
    assert invoice is not None and not invoice.open and invoice.paid == usd("10")
    assert await store.billing.open_invoices(A) == []
    assert [i.period for i in await store.billing.invoices(A)] == [P]


async def test_settle_pays_in_full_or_not_at_all_and_clears_the_debt(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    for period, price in (("202602", "10"), ("202603", "5")):
        line = ChargeLine(A, "basic", usd(price))
        await store.billing.charge_line(A, period, line, at=T0, actor="t")
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
    subscriber = await store.billing.subscriber(A)
    assert subscriber is not None and subscriber.state.unpaid_since is None
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
    assert await store.freezes.freeze(A, record, FreezeIf.OWING) is Frozen.NOT_NOW
    assert await store.freezes.freeze(A, record, FreezeIf.TRIAL) is Frozen.ADDED
    assert await store.freezes.freeze(A, record, FreezeIf.TRIAL) is Frozen.ALREADY
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

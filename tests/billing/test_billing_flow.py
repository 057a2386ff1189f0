"""The billing cycle's flows on one store: activation, renewal, settlement, freeze, closure."""

from __future__ import annotations

from datetime import datetime

from payments import keys
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.freezes import (
    Closed,
    Froze,
    close_frozen,
    end_trial,
    freeze_unpaid,
    operator_freeze,
)
from payments.billing.payment import pay_invoices
from payments.billing.renewal import Renewed, renew_account
from payments.ledger.records import EntryKind
from payments.stores import Store
from tests.support.billing import (
    POLICY,
    T0,
    account_of,
    basic_plan,
    cycle_of,
    days,
    kinds,
    paid_account,
    top_up,
    usd,
)

A = "alice@example.org"


async def next_renewal(store: Store, jid: str) -> datetime:
    account = await store.accounts.get(jid)
    assert account is not None and account.next_renewal_at is not None
    return account.next_renewal_at


async def test_a_top_up_of_the_activation_amount_activates_and_charges_the_first_month(
    store: Store,
) -> None:
    await basic_plan(store, "10")
    await store.accounts.register_trial(A, T0, 30)
    small = await top_up(store, A, "19.99", T0 + days(1))
    assert not small.settlement.activated
    assert (await account_of(store, A)).kind is AccountKind.TRIAL
    outcome = await top_up(store, A, "0.01", T0 + days(2))
    assert outcome.settlement.activated
    account = await store.accounts.get(A)
    assert account is not None and account.kind is AccountKind.PAID and account.plan == "basic"
    assert account.next_renewal_at == T0 + days(2) + (days(31))  # Jan 7 -> Feb 7
    assert (await store.ledger.balances(A)).prepaid == usd("10")
    charge = (await store.ledger.entries(A))[-1]
    assert charge.kind is EntryKind.CHARGE and charge.amount == -usd("10")
    assert await kinds(store, A) == ["plan_activated"]
    assert await store.schedules.at(keys.RENEWALS, A) == T0 + days(33)
    assert await store.schedules.at(keys.TRIAL_ENDS, A) is None
    replay = await top_up(store, A, "0.01", T0 + days(2), ref="")
    assert not replay.settlement.activated  # already paid: activation happens once


async def test_activation_takes_the_plan_the_trial_chose(store: Store) -> None:
    await basic_plan(store, "10")
    await basic_plan(store, "15", plan_id="plus")
    await store.accounts.register_trial(A, T0, 30)
    assert await store.billing.set_next_plan(A, "plus")
    await top_up(store, A, "20", T0)
    account = await store.accounts.get(A)
    assert account is not None and account.plan == "plus" and account.next_plan == ""
    assert (await store.ledger.balances(A)).prepaid == usd("5")


async def test_no_activation_without_a_plan_to_sell(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    outcome = await top_up(store, A, "50", T0)
    assert not outcome.settlement.activated
    assert (await account_of(store, A)).kind is AccountKind.TRIAL


async def test_renewal_charges_the_snapshot_once_even_after_a_price_rise(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "50")
    await store.plans.put("basic", at=T0 + days(1), price=usd("25"))
    due = await next_renewal(store, A)
    cycle = cycle_of(store)
    first = await renew_account(cycle, A, due)
    second = await renew_account(cycle, A, due)
    assert first.result is Renewed.RENEWED and first.charged == usd("10")
    assert second.result is Renewed.RESCHEDULED
    assert (await store.ledger.balances(A)).prepaid == usd("30")
    assert await next_renewal(store, A) == datetime(2026, 3, 5, 9, tzinfo=T0.tzinfo)


async def test_a_renewal_left_behind_catches_up_period_by_period(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "50")
    outcome = await renew_account(cycle_of(store), A, T0 + days(95))  # Feb, Mar, Apr are due
    assert outcome.periods == 3
    assert [i.period for i in await store.billing.invoices(A)] == [
        "202604",
        "202603",
        "202602",
        "202601",
    ]
    assert (await store.ledger.balances(A)).prepaid == usd("10")


async def test_plan_change_applies_at_the_next_renewal_at_the_new_price(store: Store) -> None:
    await basic_plan(store, "10")
    await basic_plan(store, "4", plan_id="lite")
    await paid_account(store, A, T0, "30")
    await store.billing.set_next_plan(A, "lite")
    assert (await account_of(store, A)).plan == "basic"
    await renew_account(cycle_of(store), A, await next_renewal(store, A))
    account = await store.accounts.get(A)
    assert account is not None and account.plan == "lite" and account.next_plan == ""
    assert (await store.ledger.balances(A)).prepaid == usd("16")
    snapshot = await store.billing.current_snapshot(A)
    assert snapshot is not None and snapshot.plan == "lite" and snapshot.price == usd("4")


async def test_unpaid_grace_freeze_then_payment_settles_and_unfreezes(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    await store.ledger.debit(A, usd("7"), reason="spent", kind=EntryKind.DEBIT)
    cycle, due = cycle_of(store), await next_renewal(store, A)
    failed = await renew_account(cycle, A, due)
    assert failed.result is Renewed.INVOICED and failed.owed == usd("7")
    assert await freeze_unpaid(cycle, A, due + days(6)) is Froze.NOT_DUE
    assert await freeze_unpaid(cycle, A, due + days(7)) is Froze.FROZEN
    assert await freeze_unpaid(cycle, A, due + days(8)) is Froze.ALREADY
    frozen = await store.accounts.get(A)
    assert frozen is not None and frozen.freezes == {FreezeKind.BILLING}
    partial = await top_up(store, A, "5", due + days(9))
    assert partial.settlement.missing == usd("2") and not partial.settlement.unfrozen
    paid = await top_up(store, A, "5", due + days(10))
    assert paid.settlement.unfrozen and paid.settlement.owed == usd("0")
    assert [s.period for s in paid.settlement.settled] == ["202602"]
    assert not (await account_of(store, A)).frozen
    assert (await store.ledger.balances(A)).prepaid == usd("3")
    assert await store.ledger.check(A) == []
    assert await kinds(store, A) == [
        "plan_activated",
        "renewal_failed",
        "frozen",
        "invoice_paid",
        "unfrozen",
    ]
    # The schedules still name it: the chores look, find nothing to do, and drop it.
    assert await freeze_unpaid(cycle, A, due + days(11)) is Froze.PAID
    assert await store.schedules.at(keys.UNPAID, A) is None
    assert (await close_frozen(cycle, A, due + days(11))).result is Closed.NOT_FROZEN
    assert await store.schedules.at(keys.BILLING_FROZEN, A) is None


async def test_open_invoices_are_settled_smallest_first(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    cycle, due = cycle_of(store), await next_renewal(store, A)
    await store.ledger.debit(A, usd("10"), reason="spent", kind=EntryKind.DEBIT)
    await renew_account(cycle, A, due)  # Feb: $10 owed
    await store.ledger.credit(A, usd("7"), reason="gift")  # no flow: stays in the balance
    await renew_account(cycle, A, await next_renewal(store, A))  # Mar: $3 owed
    assert await store.billing.open_invoices(A) == [("202603", usd("3")), ("202602", usd("10"))]
    outcome = await top_up(store, A, "4", due + days(40))
    assert [s.period for s in outcome.settlement.settled] == ["202603"]
    assert outcome.settlement.missing == usd("9") and outcome.settlement.owed == usd("10")
    paid = await pay_invoices(cycle, A, due + days(41))
    assert paid.settled == () and paid.missing == usd("9")


async def test_an_operator_freeze_is_never_lifted_by_payment(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    cycle = cycle_of(store, "cli:root")
    await operator_freeze(cycle, A, FreezeKind.VIOLATION, "spam", T0 + days(1))
    outcome = await top_up(store, A, "20", T0 + days(2))
    assert not outcome.settlement.unfrozen
    account = await store.accounts.get(A)
    assert account is not None and account.freezes == {FreezeKind.VIOLATION}
    # ... and renewals still charge an account an operator froze.
    result = await renew_account(cycle, A, await next_renewal(store, A))
    assert result.result is Renewed.RENEWED


async def test_a_trial_that_ends_is_frozen_until_its_activation(store: Store) -> None:
    await basic_plan(store, "10")
    await store.accounts.register_trial(A, T0, 30)
    cycle = cycle_of(store)
    assert await store.schedules.at(keys.TRIAL_ENDS, A) == T0 + days(30)
    assert await end_trial(cycle, A, T0 + days(29)) is Froze.NOT_DUE
    assert await end_trial(cycle, A, T0 + days(30)) is Froze.FROZEN
    assert await store.schedules.at(keys.TRIAL_ENDS, A) is None
    small = await top_up(store, A, "5", T0 + days(31))
    assert not small.settlement.unfrozen  # paying less than the activation amount
    outcome = await top_up(store, A, "15", T0 + days(32))
    assert outcome.settlement.activated
    account = await store.accounts.get(A)
    assert account is not None and account.kind is AccountKind.PAID and not account.frozen
    assert await kinds(store, A) == ["trial_ended", "unfrozen", "plan_activated"]


async def test_closure_after_the_frozen_period_releases_the_number(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    await store.ledger.debit(A, usd("10"), reason="spent", kind=EntryKind.DEBIT)
    await store.redis.hset(keys.account(A), "number", "+15550100")
    cycle, due = cycle_of(store), await next_renewal(store, A)
    await renew_account(cycle, A, due)
    await freeze_unpaid(cycle, A, due + days(7))
    not_yet = await close_frozen(cycle, A, due + days(7 + 89))
    assert not_yet.result is Closed.NOT_DUE
    closure = await close_frozen(cycle, A, due + days(7 + 90))
    assert closure.result is Closed.CLOSED and closure.number == "+15550100"
    account = await store.accounts.get(A)
    assert account is not None and account.closed and account.number == ""
    assert (await close_frozen(cycle, A, due + days(100))).result is Closed.GONE
    for schedule in (keys.RENEWALS, keys.UNPAID, keys.BILLING_FROZEN):
        assert await store.schedules.at(schedule, A) is None
    assert len(await store.ledger.entries(A)) == 3  # the books are kept
    assert (await kinds(store, A))[-1] == "closed"
    later = await top_up(store, A, "50", due + days(101))
    assert later.settlement.owed is None  # a closed account is not billed any more
    assert POLICY.close_after_days == 90


async def test_a_replayed_credit_completes_what_a_crash_left_undone(store: Store) -> None:
    await basic_plan(store, "10")
    await store.accounts.register_trial(A, T0, 30)
    # The webhook's first attempt credited, then the process died before activating.
    await store.ledger.credit(A, usd("20"), reason="payment", kind=EntryKind.PAYMENT, ref="evt-1")
    assert (await account_of(store, A)).kind is AccountKind.TRIAL
    retry = await top_up(store, A, "20", T0 + days(1), ref="evt-1")
    assert not retry.applied.applied and retry.settlement.activated
    assert (await store.ledger.balances(A)).prepaid == usd("10")  # credited once, charged once


async def test_a_naive_instant_is_taken_as_utc(store: Store) -> None:
    await basic_plan(store, "10")
    await store.accounts.register_trial(A, T0, 30)
    outcome = await top_up(store, A, "20", T0.replace(tzinfo=None) + days(1))
    assert outcome.settlement.activated
    assert await next_renewal(store, A) == T0 + days(32)

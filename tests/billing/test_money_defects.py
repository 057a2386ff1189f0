"""The money defects an outside review found (issue 11), one regression test each, on a
real redis-server. Each reproduces the interleaving or crash the review described;
a race is made deterministic by running the other actor exactly where the review
put it (wrapped around the store call that commits)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from payments import keys
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.freezes import (
    Closed,
    close_frozen,
    end_trial,
    freeze_unpaid,
    operator_freeze,
)
from payments.billing.registration import register
from payments.billing.renewal import Renewed, renew_account
from payments.chores.registry import run_chores
from payments.chores.runner import ChoreRun
from payments.config import UsageConfig
from payments.groups import flow as groups
from payments.groups.flow import Step
from payments.ledger.records import EntryKind
from payments.stores import Store
from payments.usage.flow import COUNTED, OUT_OF_WINDOW, Meter, ingest, set_autobuy
from payments.usage.rules import UsageEvent
from tests.support.billing import (
    POLICY,
    T0,
    basic_plan,
    cycle_of,
    days,
    kinds,
    paid_account,
    top_up,
    usd,
)
from tests.support.groups import LEAF, MAIN, Crash, crash_at, flow_of, main_and_trial

A = "alice@example.org"
GRACE, CLOSE = days(POLICY.grace_days), days(POLICY.close_after_days)


def before(target: object, name: str, first: Callable[[], Awaitable[Any]]) -> None:
    """Run ``first`` just before ``target.name`` commits: the other actor of a race."""
    original = getattr(target, name)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        await first()
        setattr(target, name, original)
        return await original(*args, **kwargs)

    setattr(target, name, wrapped)


async def owing(store: Store, jid: str = A) -> datetime:
    """A paid account whose first renewal left $10 owed; the renewal's instant."""
    await basic_plan(store, "10")
    await paid_account(store, jid, T0, "20")
    await store.ledger.debit(jid, usd("10"), reason="spent", kind=EntryKind.DEBIT)
    due = T0 + days(31)
    assert (await renew_account(cycle_of(store), jid, due)).result is Renewed.INVOICED
    return due


async def test_a_payment_landing_while_the_account_is_closed_keeps_it_open(
    real_store: Store,
) -> None:
    store = real_store
    due = await owing(store)
    assert (await freeze_unpaid(cycle_of(store), A, due + GRACE)).value == "frozen"
    when = due + GRACE + CLOSE

    async def pay() -> None:  # read by the close chore, then paid, then written
        assert (await top_up(store, A, "10", when, ref="late")).settlement.unfrozen

    before(store.billing, "close", pay)
    closure = await close_frozen(cycle_of(store), A, when)
    assert closure.result is Closed.NOT_FROZEN
    account = await store.accounts.get(A)
    assert account is not None and not account.closed and not account.frozen


async def test_a_closed_account_keeps_its_money_and_register_reopens_it(
    real_store: Store,
) -> None:
    store = real_store
    await basic_plan(store, "10")
    await store.accounts.register_trial(A, T0, POLICY.trial_days)
    await top_up(store, A, "10", T0, ref="first")  # too little to activate
    ended = T0 + days(POLICY.trial_days)
    cycle = cycle_of(store)
    await end_trial(cycle, A, ended)
    assert (await close_frozen(cycle, A, ended + CLOSE)).result is Closed.CLOSED
    late = await top_up(store, A, "15", ended + CLOSE + days(1), ref="late-btcpay")
    assert late.applied.applied and late.settlement.kept
    reopened = await register(cycle, A, ended + CLOSE + days(2))
    assert reopened.name == "REOPENED"
    account = await store.accounts.get(A)
    assert account is not None and not account.closed and account.kind is AccountKind.PAID
    assert (await store.ledger.balances(A)).prepaid == usd("15")  # $25 less the first month
    assert await store.ledger.check(A) == []


async def test_a_plan_chosen_while_the_renewal_runs_does_not_give_a_free_month(
    real_store: Store,
) -> None:
    store = real_store
    await basic_plan(store, "10")
    await basic_plan(store, "25", "pro")
    await paid_account(store, A, T0, "60")
    await store.billing.set_next_plan(A, "pro")

    async def change_mind() -> None:  # the user picks another plan as the renewal reads
        await store.billing.set_next_plan(A, "basic")

    before(store.plans, "get", change_mind)
    await renew_account(cycle_of(store), A, T0 + days(31))
    invoice = await store.billing.invoice(A, "202602")
    assert invoice is not None and [ln.member for ln in invoice.lines] == [A]
    assert invoice.lines[0].amount == usd("10")  # read again: the plan chosen last
    assert (await store.ledger.balances(A)).prepaid == usd("40")


async def test_a_leaf_closed_on_its_own_is_not_billed_to_its_main(real_store: Store) -> None:
    store = real_store
    await main_and_trial(store, main_amount="100")
    await groups.join(flow_of(store), MAIN, LEAF, T0 + days(1))
    cycle = cycle_of(store)
    await operator_freeze(cycle, LEAF, FreezeKind.BILLING, "chargeback", T0 + days(2))
    assert (await close_frozen(cycle, LEAF, T0 + days(2) + CLOSE)).result is Closed.CLOSED
    assert await store.groups.main_of(LEAF) == ""
    renewal = T0 + days(31) + days(31) + days(28) + days(31)
    await renew_account(cycle, MAIN, renewal)
    invoice = await store.billing.invoice(MAIN, "202605")
    assert invoice is not None and [ln.member for ln in invoice.lines] == [MAIN]


async def test_a_join_cut_by_a_crash_is_finished_by_the_repair_chore(real_store: Store) -> None:
    store = real_store
    await main_and_trial(store)
    crashed = flow_of(store, crash_at(Step.MAIN_CHARGED))
    with contextlib.suppress(Crash):
        await groups.join(crashed, MAIN, LEAF, T0 + days(1))
    await store.redis.delete(keys.group_lock(MAIN))  # the dead process's lock expired
    assert await store.groups.move(LEAF) is not None  # half done; nobody sends a command
    await run_chores(
        ChoreRun(
            cycle_of(store),
            T0
            + days(
                1,
            ),
        ),
        "repair",
    )
    assert await store.groups.main_of(LEAF) == MAIN
    assert await store.groups.move(LEAF) is None
    assert await store.groups.unfinished_joins(MAIN) == []


async def test_money_paid_to_a_leaf_is_used_once_it_pays_for_itself(real_store: Store) -> None:
    store = real_store
    await main_and_trial(store)
    await groups.join(flow_of(store), MAIN, LEAF, T0 + days(1))
    # A top-up link from its trial days is paid after it became a leaf.
    late = await top_up(store, LEAF, "30", T0 + days(2), ref="late-card")
    assert late.applied.applied and late.settlement.kept
    left = await groups.leave(flow_of(store), LEAF, T0 + days(3))
    assert left.paid_until == T0 + days(31)  # paid by its main to the end of the month
    await end_trial(cycle_of(store), LEAF, left.paid_until)
    account = await store.accounts.get(LEAF)
    assert account is not None and account.kind is AccountKind.PAID and not account.frozen
    assert (await store.ledger.balances(LEAF)).prepaid == usd("20")  # $30 less its month


async def test_an_owing_account_is_frozen_even_when_its_unpaid_entry_was_lost(
    real_store: Store,
) -> None:
    store = real_store
    due = await owing(store)
    # A crash right after the renewal, before the index:
    await store.schedules.remove(keys.UNPAID, A)
    await run_chores(ChoreRun(cycle_of(store), due + GRACE + days(1)), "all")
    account = await store.accounts.get(A)
    assert account is not None and FreezeKind.BILLING in account.freezes


async def test_a_usage_event_replayed_two_months_later_is_not_counted_again(
    real_store: Store,
) -> None:
    store = real_store
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    meter = Meter(store, UsageConfig())
    event = UsageEvent("ev-1", A, "sms", 7, datetime(2026, 1, 31, 22, tzinfo=UTC))
    first = await ingest(meter, [event], datetime(2026, 1, 31, 23, tzinfo=UTC))
    replay = await ingest(meter, [event], datetime(2026, 3, 2, tzinfo=UTC))
    assert first.statuses == (COUNTED,) and replay.statuses == (OUT_OF_WINDOW,)
    for month in ("202601", "202602", "202603"):
        used = await store.redis.hget(keys.usage(A, month), "used:sms")
        assert int(used or 0) == (7 if month == "202601" else 0)


async def test_paying_after_a_frozen_renewal_bills_the_month_that_starts_then(
    real_store: Store,
) -> None:
    store = real_store
    due = await owing(store)
    cycle = cycle_of(store)
    await freeze_unpaid(cycle, A, due + GRACE)
    next_due = due + days(28)  # Mar 5: frozen, the renewal is held, not skipped
    assert (await renew_account(cycle, A, next_due)).result is Renewed.HELD
    paid_at = next_due + days(10)
    await top_up(store, A, "30", paid_at, ref="pay")  # $10 owed, then a month from now
    account = await store.accounts.get(A)
    assert account is not None and not account.frozen
    assert account.next_renewal_at == paid_at + days(31)  # Mar 15 -> Apr 15
    invoice = await store.billing.invoice(A, "202603")
    assert invoice is not None and not invoice.open and invoice.total == usd("10")
    assert (await store.ledger.balances(A)).prepaid == usd("10")


async def test_recurring_credits_wait_until_their_renewal_line_is_paid(
    real_store: Store,
) -> None:
    store = real_store
    await basic_plan(store, "10")
    await paid_account(store, A, T0, "20")
    await store.packs.put("sms100", at=T0, resource="sms", quantity=100, price=usd("3"))
    await set_autobuy(Meter(store, UsageConfig()), A, "sms100", True, T0)
    due = T0 + days(31)
    await store.ledger.debit(A, usd("10"), reason="spent", kind=EntryKind.DEBIT)
    assert (await renew_account(cycle_of(store), A, due)).result is Renewed.INVOICED
    assert await store.credits.grants(A) == ()  # $13 owed: no credits yet
    await top_up(store, A, "13", due + days(1), ref="pay")
    grants = await store.credits.grants(A)
    assert [g.id for g in grants] == ["auto-202602-sms100"]
    assert await store.schedules.at(keys.CREDIT_EXPIRIES, A) is not None


async def test_a_leaf_leaving_a_frozen_main_is_paid_only_to_the_end_of_what_was_paid(
    real_store: Store,
) -> None:
    store = real_store
    await main_and_trial(store, main_amount="20")
    await groups.join(flow_of(store), MAIN, LEAF, T0)  # the main pays $10 for the leaf
    cycle, due = cycle_of(store), T0 + days(31)
    assert (await renew_account(cycle, MAIN, due)).result is Renewed.INVOICED
    await freeze_unpaid(cycle, MAIN, due + GRACE)
    assert (await renew_account(cycle, MAIN, due + days(28))).result is Renewed.HELD
    leaving = due + days(33)  # Mar 10: the main paid to Feb 5, and nothing since
    left = await groups.leave(flow_of(store), LEAF, leaving)
    assert left.paid_until == leaving  # not Apr 5, a renewal skipped into while frozen
    assert await kinds(store, LEAF)  # told

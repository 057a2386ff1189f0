"""Renewal: bill an account's due periods, one line per member, at the snapshotted prices.

Each step is a single-account atomic script, idempotent per (account,
period, member): a renewal run again after a crash completes the same
period and charges nobody twice. The renew chore calls ``renew_account`` for
every account due; activation calls it for the first month.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from payments import keys
from payments.billing import texts as notices
from payments.billing.cycle import Cycle
from payments.billing.freezes import lift_billing_freeze
from payments.billing.rules import (
    MAX_CATCH_UP,
    ChargeLine,
    ChargeSplit,
    RenewAction,
    Subscriber,
    grace_ends,
    next_renewal,
    renewal_action,
    renewal_lines,
    split_charge,
    total_of,
)
from payments.clock import month_of
from payments.money import Money
from payments.usage.flow import grant_recurring_packs, recurring_pack_lines


class Renewed(StrEnum):
    RENEWED = "renewed"  # fully paid
    INVOICED = "invoiced"  # something is owed on the period's invoice
    SKIPPED_FROZEN = "skipped_frozen"  # billing-frozen: the period is not billed
    RESCHEDULED = "rescheduled"  # not due yet (a stale schedule entry was fixed)
    UNSCHEDULED = "unscheduled"  # not an account that renews


@dataclass(frozen=True, slots=True)
class RenewOutcome:
    jid: str
    result: Renewed
    period: str = ""
    lines: tuple[tuple[ChargeLine, ChargeSplit], ...] = ()
    owed: Money | None = None  # on the period's invoice
    periods: int = 1  # periods billed in this call (more when catching up)
    following: datetime | None = None  # the next renewal date, once moved on

    @property
    def charged(self) -> Money | None:
        """What the lines took from the balances (None when nothing was billed)."""
        paid = [split.paid for _, split in self.lines]
        return sum(paid[1:], paid[0]) if paid else None


async def renew_account(cycle: Cycle, jid: str, now: datetime) -> RenewOutcome:
    """Bill every period of ``jid`` that is due at ``now`` (normally one)."""
    outcome = await renew_once(cycle, jid, now)
    billed = 1
    while outcome.following is not None and outcome.following <= now and billed < MAX_CATCH_UP:
        outcome, billed = await renew_once(cycle, jid, now), billed + 1
    return replace(outcome, periods=billed)


async def renew_once(cycle: Cycle, jid: str, now: datetime) -> RenewOutcome:
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    action = renewal_action(sub.account if sub else None, now)
    # A billing freeze with nothing owed is stale (a crash before lifting it).
    if action is RenewAction.SKIP_FROZEN and await lift_billing_freeze(cycle, jid, now):
        sub = await store.billing.subscriber(jid)
        action = renewal_action(sub.account if sub else None, now)
    if sub is None or action is RenewAction.UNSCHEDULE:
        await store.billing.unschedule(keys.RENEWALS, jid)
        return RenewOutcome(jid, Renewed.UNSCHEDULED)
    billed = sub.account.next_renewal_at
    assert billed is not None  # renewal_action checked it
    if action is RenewAction.RESCHEDULE:
        await store.billing.schedule(keys.RENEWALS, jid, billed)
        return RenewOutcome(jid, Renewed.RESCHEDULED)
    period = month_of(billed)
    following = next_renewal(billed, sub.state.renewal_day or billed.day)
    if action is RenewAction.SKIP_FROZEN:
        await _move_on(cycle, jid, billed, following, period)
        return RenewOutcome(jid, Renewed.SKIPPED_FROZEN, period, following=following)
    return await _bill_period(cycle, sub, now, period, following)


async def _bill_period(
    cycle: Cycle, sub: Subscriber, now: datetime, period: str, following: datetime
) -> RenewOutcome:
    store, jid = cycle.store, sub.account.jid
    plan_as_of = await _apply_plan_choice(cycle, sub, period)
    lines = await charge_lines(cycle, jid, sub.group, plan_as_of)
    charged = [
        (line, await store.billing.charge_line(jid, period, line, at=now, actor=cycle.actor))
        for line in lines
    ]
    # The credits of recurring packs, once per (period, pack), before the date moves on.
    billed = sub.account.next_renewal_at or now
    await grant_recurring_packs(store, jid, period, lines, billed, cycle.actor)
    owed = charged[-1][1].invoice_due if charged else cycle.money(0)
    splits = tuple((line, result.split) for line, result in charged)
    result = Renewed.INVOICED if owed.units else Renewed.RENEWED
    outcome = RenewOutcome(jid, result, period, splits, owed, following=following)
    balance = charged[-1][1].balance if charged else None
    await _tell_renewal(cycle, sub, outcome, now, following, balance)
    assert sub.account.next_renewal_at is not None
    await _move_on(cycle, jid, sub.account.next_renewal_at, following, period)
    if owed.units:
        since = sub.state.unpaid_since or now
        await store.billing.schedule(keys.UNPAID, jid, since, nx=True)
    return outcome


async def _move_on(
    cycle: Cycle, jid: str, billed: datetime, following: datetime, period: str
) -> None:
    await cycle.store.billing.finish_renewal(jid, billed, following, period)


async def _apply_plan_choice(cycle: Cycle, sub: Subscriber, period: str) -> str:
    """Switch to the plan chosen with ``plan ID``; the month of the snapshot in force."""
    chosen = sub.account.next_plan
    if not chosen:
        return sub.state.plan_as_of
    plan = await cycle.store.plans.get(chosen)
    if plan is None:  # withdrawn from the catalog since: keep the current plan
        await cycle.store.billing.set_next_plan(sub.account.jid, "")
        return sub.state.plan_as_of
    await cycle.store.billing.apply_next_plan(sub.account.jid, chosen, period, plan)
    return period


async def charge_lines(
    cycle: Cycle, jid: str, group_index: str, plan_as_of: str
) -> list[ChargeLine]:
    """The main's own line at its snapshot, then one per leaf at the leaf's snapshot."""
    store = cycle.store
    own = await store.billing.snapshot(jid, plan_as_of)
    if own is None:
        return []
    group = await store.groups.get(group_index) if group_index else None
    leaves = group.leaves if group is not None and group.main == jid else ()
    snapshots = [(leaf, await store.billing.current_snapshot(leaf)) for leaf in leaves]
    lines = [line for line in renewal_lines(jid, own, snapshots) if line.amount.units > 0]
    # Recurring credit packs: a line each, at the price snapshotted when autobuy was turned on.
    return lines + await recurring_pack_lines(store, jid)


async def _tell_renewal(
    cycle: Cycle,
    sub: Subscriber,
    outcome: RenewOutcome,
    now: datetime,
    following: datetime,
    balance_after: Money | None,
) -> None:
    store, jid = cycle.store, sub.account.jid
    if outcome.owed and outcome.owed.units:
        invoice = await store.billing.invoice(jid, outcome.period)
        if invoice is not None:
            since = sub.state.unpaid_since or now
            await cycle.store.outbox.notify(
                notices.renewal_failed(jid, invoice, grace_ends(since, cycle.policy))
            )
        return
    activated = sub.state.activated_at
    if activated is not None and activated == sub.account.next_renewal_at:
        plan = await store.plans.get(sub.account.plan)
        name = plan.name if plan is not None else sub.account.plan
        price = total_of((line for line, _ in outcome.lines), cycle.policy.currency)
        await cycle.store.outbox.notify(notices.plan_activated(jid, name, price, following))
        return
    balance = balance_after if balance_after is not None else cycle.money(0)
    charged = outcome.charged or cycle.money(0)
    await cycle.store.outbox.notify(
        notices.renewal_done(jid, outcome.period, charged, balance, following)
    )


async def preview_renewal(cycle: Cycle, jid: str, now: datetime) -> RenewOutcome:
    """What ``renew_account`` would do now, changing nothing (``--dry-run``)."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    action = renewal_action(sub.account if sub else None, now)
    if sub is None or action is RenewAction.UNSCHEDULE:
        return RenewOutcome(jid, Renewed.UNSCHEDULED)
    if action is RenewAction.RESCHEDULE:
        return RenewOutcome(jid, Renewed.RESCHEDULED)
    assert sub.account.next_renewal_at is not None
    period = month_of(sub.account.next_renewal_at)
    if action is RenewAction.SKIP_FROZEN:
        return RenewOutcome(jid, Renewed.SKIPPED_FROZEN, period)
    balances = await store.ledger.balances(jid)
    voucher, prepaid = balances.voucher, balances.prepaid
    splits = []
    for line in await charge_lines(cycle, jid, sub.group, sub.state.plan_as_of):
        split = split_charge(line.amount, voucher, prepaid)
        voucher, prepaid = voucher - split.voucher, prepaid - split.prepaid
        splits.append((line, split))
    owed = sum((s.due for _, s in splits), cycle.money(0))
    result = Renewed.INVOICED if owed.units else Renewed.RENEWED
    return RenewOutcome(jid, result, period, tuple(splits), owed)

"""Renewal: bill an account's due period, one line per member, at the snapshotted prices.

Deciding reads the account, its leaves and the plan it chose; applying is
one atomic script over the account's keys (``lua/renew.lua``) that checks
the account is still as read, so a plan changed, a payment landed or
another host renewed meanwhile makes it read again instead of billing from
a stale view. A period is billed once: the renewal date moves on in the
same step. A billing-frozen account is not billed: its renewal is held
until the freeze is lifted, and the renewal that follows starts a new
monthly cycle then (``rules.renewal_dates``).

The renew chore calls ``renew_account`` for every account due; activation
and the lifting of a freeze call it for the period that starts then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from payments import keys
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing import texts as notices
from payments.billing.cycle import Cycle
from payments.billing.rules import (
    MAX_CATCH_UP,
    ChargeLine,
    ChargeSplit,
    Invoice,
    RenewAction,
    Subscriber,
    grace_ends,
    renewal_action,
    renewal_dates,
    split_charge,
    total_of,
)
from payments.billing.store import Renewal, RenewalRequest, RenewStatus
from payments.clock import month_of
from payments.money import Money
from payments.notices import Notice
from payments.usage.credits import autobuy_pack
from payments.usage.flow import recurring_pack_lines

ATTEMPTS: Final = 5  # reads of an account that keeps changing under a renewal


class Renewed(StrEnum):
    RENEWED = "renewed"  # fully paid
    INVOICED = "invoiced"  # something is owed on the period's invoice
    HELD = "held"  # billing-frozen: not billed until the freeze is lifted
    RESCHEDULED = "rescheduled"  # not due yet (a stale schedule entry was fixed)
    UNSCHEDULED = "unscheduled"  # not an account that renews
    BUSY = "busy"  # it kept changing while we read it: the next run renews it


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
    """One period, read again while the account changes under it."""
    for _ in range(ATTEMPTS):
        outcome = await _renew_as_read(cycle, jid, now)
        if outcome.result is not Renewed.BUSY:
            return outcome
    return outcome


async def _renew_as_read(cycle: Cycle, jid: str, now: datetime) -> RenewOutcome:
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    action = renewal_action(sub.account if sub else None, now)
    if sub is None or action is RenewAction.UNSCHEDULE:
        await _unschedule(cycle, jid, now)
        return RenewOutcome(jid, Renewed.UNSCHEDULED)
    billed = sub.account.next_renewal_at
    assert billed is not None  # renewal_action checked it
    if action is RenewAction.RESCHEDULE:
        await store.schedules.add(keys.RENEWALS, jid, billed)
        return RenewOutcome(jid, Renewed.RESCHEDULED)
    request = await _request(cycle, sub, now)
    renewal = await store.billing.renew(request)
    return await _after(cycle, sub, request, renewal, now)


async def _request(cycle: Cycle, sub: Subscriber, now: datetime) -> RenewalRequest:
    assert sub.account.next_renewal_at is not None
    chosen, currency = sub.account.next_plan, sub.account.currency
    # Withdrawn, or not sold in the account's currency: the account keeps its plan.
    plan = await cycle.store.plans.get_in(chosen, currency) if chosen else None
    return RenewalRequest(
        sub.account.jid,
        sub.fields,
        renewal_dates(sub.state, sub.account.next_renewal_at, now),
        tuple(await leaf_lines(cycle, sub)),
        plan,
        now,
        cycle.actor,
    )


async def leaf_lines(cycle: Cycle, sub: Subscriber) -> list[ChargeLine]:
    """One line per leaf the main pays for, at the leaf's own snapshot: only open leaves
    of this main (a leaf closed or gone meanwhile is not billed)."""
    store, main = cycle.store, sub.account.jid
    group = await store.groups.get(sub.group) if sub.group else None
    if group is None or group.main != main:
        return []
    lines = []
    for leaf in group.leaves:
        account = await store.accounts.get(leaf)
        if account is None or account.closed or account.kind is not AccountKind.LEAF:
            continue
        snapshot = await store.billing.current_snapshot(leaf)
        if snapshot is not None and snapshot.paid_by == main:
            lines.append(ChargeLine(leaf, snapshot.plan, snapshot.price))
    return lines


async def _after(
    cycle: Cycle, sub: Subscriber, request: RenewalRequest, renewal: Renewal, now: datetime
) -> RenewOutcome:
    jid, dates = sub.account.jid, request.dates
    if renewal.status is RenewStatus.CHANGED:
        return RenewOutcome(jid, Renewed.BUSY)
    if renewal.status is RenewStatus.NOT_RENEWING:
        await _unschedule(cycle, jid, now)
        return RenewOutcome(jid, Renewed.UNSCHEDULED)
    if renewal.status is RenewStatus.HELD:
        # Lifting the freeze schedules it again (lifting.schedule_held_renewal).
        await _unschedule(cycle, jid, now)
        return RenewOutcome(jid, Renewed.HELD, dates.period)
    outcomes = await _finish(cycle, [(jid, dates.period, renewal)], now)
    return outcomes[jid]


def is_pack_line(line: ChargeLine) -> bool:
    return bool(autobuy_pack(line))


async def _unschedule(cycle: Cycle, jid: str, now: datetime) -> None:
    """Drop a stale entry, then look again: a renewal that became due meanwhile stays."""
    store = cycle.store
    await store.schedules.remove(keys.RENEWALS, jid)
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.state.renewal_held is not None:
        return
    due = sub.account.next_renewal_at
    if due is not None and renewal_action(sub.account, now) is not RenewAction.UNSCHEDULE:
        await store.schedules.add_early(keys.RENEWALS, jid, due)


async def _notice(
    cycle: Cycle, outcome: RenewOutcome, renewal: Renewal, invoice: Invoice | None, now: datetime
) -> Notice | None:
    """What the renewal tells its account: failed (with the invoice), the plan activated
    (the first renewal), or done."""
    jid, following = outcome.jid, outcome.following or now
    if outcome.owed and outcome.owed.units:
        if invoice is None:
            return None
        grace = grace_ends(renewal.unpaid_since or now, cycle.policy)
        return notices.renewal_failed(jid, invoice, grace)
    if renewal.first and outcome.lines:
        own = outcome.lines[0][0].plan
        plan = await cycle.store.plans.get(own)
        name = plan.name if plan is not None else own
        price = total_of((line for line, _ in outcome.lines), renewal.balance.currency)
        return notices.plan_activated(jid, name, price, following)
    charged = outcome.charged or Money.zero(renewal.balance.currency)
    return notices.renewal_done(jid, outcome.period, charged, renewal.balance, following)


async def charge_lines(cycle: Cycle, sub: Subscriber) -> list[ChargeLine]:
    """What a renewal of ``sub`` would charge now: itself, its leaves, its recurring packs."""
    store, jid, currency = cycle.store, sub.account.jid, sub.account.currency
    chosen = (
        await store.plans.get_in(sub.account.next_plan, currency) if sub.account.next_plan else None
    )
    own = await store.billing.snapshot(jid, sub.state.plan_as_of)
    lines = []
    if chosen is not None:
        lines.append(ChargeLine(jid, chosen.id, chosen.price))
    elif own is not None:
        lines.append(ChargeLine(jid, own.plan, own.price))
    lines += await leaf_lines(cycle, sub)
    return lines + await recurring_pack_lines(store, jid)


async def preview_renewal(cycle: Cycle, jid: str, now: datetime) -> RenewOutcome:
    """What ``renew_account`` would do now, changing nothing (``--dry-run``, low balance).

    The split of each line (voucher first, then prepaid) is ``rules.split_charge``,
    the rule ``renew.lua`` applies; a property test holds the two together.
    """
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    action = renewal_action(sub.account if sub else None, now)
    if sub is None or action is RenewAction.UNSCHEDULE:
        return RenewOutcome(jid, Renewed.UNSCHEDULED)
    if action is RenewAction.RESCHEDULE:
        return RenewOutcome(jid, Renewed.RESCHEDULED)
    assert sub.account.next_renewal_at is not None
    dates = renewal_dates(sub.state, sub.account.next_renewal_at, now)
    if FreezeKind.BILLING in sub.account.freezes:
        return RenewOutcome(jid, Renewed.HELD, dates.period)
    balances = await store.ledger.balances(jid)
    voucher, prepaid = balances.voucher, balances.prepaid
    splits = []
    for line in await charge_lines(cycle, sub):
        split = split_charge(line.amount, voucher, prepaid)
        voucher, prepaid = voucher - split.voucher, prepaid - split.prepaid
        splits.append((line, split))
    owed = sum((s.due for _, s in splits), Money.zero(balances.total.currency))
    result = Renewed.INVOICED if owed.units else Renewed.RENEWED
    return RenewOutcome(jid, result, dates.period, tuple(splits), owed, following=dates.following)


# --- many accounts at once (the renew chore) -----------------------------------------------


async def renew_many(
    cycle: Cycle, due: Sequence[tuple[str, datetime]], now: datetime
) -> list[RenewOutcome]:
    """Renew the accounts of a schedule's page (each with its time there) in a few round
    trips for the whole batch: ``renew.lua`` decides each account from its own state (one
    call each, no read before), then one pipeline moves the schedule and one queues the
    notices. An account it cannot decide alone (a main with leaves, a plan chosen, a held
    renewal, a stale entry) goes through ``renew_account``, which reads it first."""
    store = cycle.store
    renewals = await store.billing.renew_due(due, at=now, actor=cycle.actor)
    done, later = [], []
    outcomes: dict[str, RenewOutcome] = {}
    for (jid, when), renewal in zip(due, renewals, strict=True):
        if renewal.status is RenewStatus.RENEWED:
            done.append((jid, month_of(when), renewal))
        elif renewal.status is RenewStatus.NOT_DUE and renewal.following is not None:
            later.append((jid, renewal.following))
            outcomes[jid] = RenewOutcome(jid, Renewed.RESCHEDULED)
    await store.schedules.add_many(keys.RENEWALS, later)
    outcomes.update(await _finish(cycle, done, now))
    for jid, _when in due:  # the rest, one by one (each is rare)
        if jid not in outcomes:
            outcomes[jid] = await renew_account(cycle, jid, now)
    for jid, _period, renewal in done:  # months behind: the next ones, one by one
        if renewal.following is not None and renewal.following <= now:
            outcomes[jid] = await renew_account(cycle, jid, now)
    return [outcomes[jid] for jid, _ in due]


async def _finish(
    cycle: Cycle, done: Sequence[tuple[str, str, Renewal]], now: datetime
) -> dict[str, RenewOutcome]:
    """What follows renewals (one or a batch): the schedule moved on, credits to expire,
    the notices."""
    store = cycle.store
    await store.schedules.add_many(
        keys.RENEWALS, [(jid, r.following) for jid, _, r in done if r.following is not None]
    )
    for jid, _period, renewal in done:
        if any(is_pack_line(line) for line, _ in renewal.lines):
            await store.credits.schedule_grants(jid)
    await store.cards.watch_spending([jid for jid, _, _ in done], now)  # automatic top-ups
    owing = [(jid, period) for jid, period, renewal in done if renewal.due.units]
    # Accounts with saved cards: their cards pay what is owed, and the card work tells them
    # (payments/cards/work.py), so no "renewal failed" while a card may still pay it.
    by_card = await store.cards.holders([jid for jid, _ in owing])
    await store.cards.schedule_many(sorted(by_card), now)
    found = await store.billing.invoices_of(owing)
    invoices = {jid: invoice for (jid, _), invoice in zip(owing, found, strict=True)}
    outcomes: dict[str, RenewOutcome] = {}
    told = []
    for jid, period, renewal in done:
        result = Renewed.INVOICED if renewal.due.units else Renewed.RENEWED
        outcome = RenewOutcome(
            jid, result, period, renewal.lines, renewal.due, following=renewal.following
        )
        outcomes[jid] = outcome
        if jid in by_card:
            continue
        notice = await _notice(cycle, outcome, renewal, invoices.get(jid), now)
        if notice is not None:
            told.append(notice)
    await store.outbox.notify_many(told)
    return outcomes

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
    RenewAction,
    Subscriber,
    grace_ends,
    renewal_action,
    renewal_dates,
    split_charge,
    total_of,
)
from payments.billing.store import Renewal, RenewalRequest, RenewStatus
from payments.money import Money
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
    chosen = sub.account.next_plan
    plan = await cycle.store.plans.get(chosen) if chosen else None  # withdrawn: keep the plan
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
    store, jid, dates = cycle.store, sub.account.jid, request.dates
    if renewal.status is RenewStatus.CHANGED:
        return RenewOutcome(jid, Renewed.BUSY)
    if renewal.status is RenewStatus.NOT_RENEWING:
        await _unschedule(cycle, jid, now)
        return RenewOutcome(jid, Renewed.UNSCHEDULED)
    if renewal.status is RenewStatus.HELD:
        # Lifting the freeze schedules it again (payment.resume_held_renewal).
        await _unschedule(cycle, jid, now)
        return RenewOutcome(jid, Renewed.HELD, dates.period)
    await store.schedules.add(keys.RENEWALS, jid, dates.following)
    if any(is_pack_line(line) for line, _ in renewal.lines):
        await store.credits.schedule_grants(jid)
    result = Renewed.INVOICED if renewal.due.units else Renewed.RENEWED
    outcome = RenewOutcome(
        jid, result, dates.period, renewal.lines, renewal.due, following=dates.following
    )
    await _tell(cycle, sub, outcome, renewal.balance, now)
    return outcome


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


async def _tell(
    cycle: Cycle, sub: Subscriber, outcome: RenewOutcome, balance: Money, now: datetime
) -> None:
    store, jid = cycle.store, sub.account.jid
    following = outcome.following or now
    if outcome.owed and outcome.owed.units:
        invoice = await store.billing.invoice(jid, outcome.period)
        if invoice is not None:
            since = sub.state.unpaid_since or now
            grace = grace_ends(since, cycle.policy)
            await store.outbox.notify(notices.renewal_failed(jid, invoice, grace))
        return
    activated = sub.state.activated_at
    if activated is not None and activated == sub.account.next_renewal_at:
        plan = await store.plans.get(sub.account.plan)
        name = plan.name if plan is not None else sub.account.plan
        price = total_of((line for line, _ in outcome.lines), cycle.policy.currency)
        await store.outbox.notify(notices.plan_activated(jid, name, price, following))
        return
    charged = outcome.charged or cycle.money(0)
    await store.outbox.notify(
        notices.renewal_done(jid, outcome.period, charged, balance, following)
    )


async def charge_lines(cycle: Cycle, sub: Subscriber) -> list[ChargeLine]:
    """What a renewal of ``sub`` would charge now: itself, its leaves, its recurring packs."""
    store, jid = cycle.store, sub.account.jid
    chosen = await store.plans.get(sub.account.next_plan) if sub.account.next_plan else None
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
    owed = sum((s.due for _, s in splits), cycle.money(0))
    result = Renewed.INVOICED if owed.units else Renewed.RENEWED
    return RenewOutcome(jid, result, dates.period, tuple(splits), owed, following=dates.following)

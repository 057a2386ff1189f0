"""The billing cycle, one account at a time: renew, settle, activate, freeze, lift, close.

Each function is a sequence of single-account atomic steps (store scripts),
each idempotent by (account, period) or by a state it checks, ordered so
that running the function again after a crash anywhere completes the work
and charges nobody twice. The chores (``payments/chores.py``) call these for
the accounts that are due; ``flows.credit_account`` calls ``after_credit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from payments import keys
from payments.accounts.freezes import FreezeIf, Frozen, LiftIf
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing import texts as notices
from payments.billing.rules import (
    MAX_CATCH_UP,
    ChargeLine,
    ChargeSplit,
    FreezeRecord,
    RenewAction,
    Subscriber,
    activation_due,
    billing_freeze_may_lift,
    chosen_plan,
    closes_at,
    closure_warning_due,
    day_label,
    grace_ends,
    next_renewal,
    period_of,
    reminder_number,
    renewal_action,
    renewal_day_of,
    renewal_lines,
    split_charge,
    state_of,
    total_of,
)
from payments.billing.store import Settled
from payments.billing.texts import Notice
from payments.config import BillingConfig
from payments.money import Money
from payments.store.outbox import Notification
from payments.stores import Store
from payments.usage.flow import grant_recurring_packs, recurring_pack_lines


def default_policy(currency: str) -> BillingConfig:
    """The default billing policy in a deployment's currency."""
    base = BillingConfig()
    return replace(
        base,
        currency=currency,
        activation_amount=Money(base.activation_amount.units, currency),
        max_amount=Money(base.max_amount.units, currency),
    )


@dataclass(frozen=True, slots=True)
class Cycle:
    """What every step needs: the store, the policy, and who acts (for the ledger)."""

    store: Store
    policy: BillingConfig
    actor: str = "chore"

    def money(self, units: int) -> Money:
        return Money(units, self.policy.currency)

    async def tell(self, notice: Notice, url: str = "") -> bool:
        note = Notification(notice.to, notice.body, url, notice.kind.value)
        return await self.store.outbox.notify(note, key=notice.key)


# --- renewal -----------------------------------------------------------------


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
    def charged(self) -> Money:
        return sum((split.paid for _, split in self.lines), Money.zero(self._currency))

    @property
    def _currency(self) -> str:
        return self.lines[0][0].amount.currency if self.lines else "USD"


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
    period = period_of(billed)
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
            await cycle.tell(notices.renewal_failed(jid, invoice, grace_ends(since, cycle.policy)))
        return
    activated = sub.state.activated_at
    if activated is not None and activated == sub.account.next_renewal_at:
        plan = await store.plans.get(sub.account.plan)
        name = plan.name if plan is not None else sub.account.plan
        price = total_of((line for line, _ in outcome.lines), cycle.policy.currency)
        await cycle.tell(notices.plan_activated(jid, name, price, following))
        return
    balance = balance_after if balance_after is not None else cycle.money(0)
    charged = outcome.charged if outcome.lines else cycle.money(0)
    await cycle.tell(notices.renewal_done(jid, outcome.period, charged, balance, following))


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
    period = period_of(sub.account.next_renewal_at)
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


# --- payment: settle, activate, lift -------------------------------------------


@dataclass(frozen=True, slots=True)
class Settlement:
    settled: tuple[Settled, ...] = ()
    missing: Money | None = None  # what the smallest invoice left open still lacks
    activated: bool = False
    unfrozen: bool = False
    owed: Money | None = None  # still owed after all this


async def settle_invoices(
    cycle: Cycle, jid: str, now: datetime, open_invoices: list[tuple[str, Money]] | None = None
) -> tuple[list[Settled], Money | None]:
    """Pay open invoices in full, smallest first, while the balances cover them."""
    paid: list[Settled] = []
    if open_invoices is None:
        open_invoices = await cycle.store.billing.open_invoices(jid)
    for period, _due in open_invoices:
        settled = await cycle.store.billing.settle(jid, period, at=now, actor=cycle.actor)
        if settled.missing.units:
            return paid, settled.missing
        if settled.paid:
            paid.append(settled)
            amount = settled.voucher + settled.prepaid
            await cycle.tell(notices.invoice_paid(jid, period, amount))
    return paid, None


async def after_credit(cycle: Cycle, jid: str, now: datetime) -> Settlement:
    """What follows any credit: settle, activate a trial, unfreeze. Safe to repeat."""
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None or sub.account.closed or sub.account.kind is AccountKind.LEAF:
        return Settlement()
    open_before = await cycle.store.billing.open_invoices(jid)
    settled, missing = await settle_invoices(cycle, jid, now, open_before)
    activated = sub.account.kind is AccountKind.TRIAL and await activate_if_due(cycle, sub, now)
    # A paid account that was neither frozen nor owing has nothing more to do:
    # the common case of a top-up stays three reads.
    unfrozen = False
    if sub.account.frozen or open_before or activated:
        unfrozen = await lift_billing_freeze(cycle, jid, now)
    owed = await cycle.store.billing.owed(jid) if open_before else cycle.money(0)
    return Settlement(tuple(settled), missing, activated, unfrozen, owed)


async def pay_invoices(cycle: Cycle, jid: str, now: datetime) -> Settlement:
    """``pay``: settle what the balances cover and unfreeze when nothing is owed."""
    settled, missing = await settle_invoices(cycle, jid, now)
    unfrozen = await lift_billing_freeze(cycle, jid, now)
    owed = await cycle.store.billing.owed(jid)
    return Settlement(tuple(settled), missing, False, unfrozen, owed)


async def activate_if_due(cycle: Cycle, sub: Subscriber, now: datetime) -> bool:
    """Upgrade a trial whose prepaid balance reached the activation amount, and bill it."""
    store, jid = cycle.store, sub.account.jid
    balances = await store.ledger.balances(jid)
    if not activation_due(sub.account, balances.prepaid, cycle.policy):
        return False
    plan = await store.plans.get(chosen_plan(sub.account, cycle.policy))
    if plan is None:
        plan = await store.plans.get(cycle.policy.default_plan)
    if plan is None:
        return False  # no plan to sell yet: the operator must create the default plan
    # Scheduled first: if we crash after activating, the renew chore bills it.
    await store.billing.schedule(keys.RENEWALS, jid, now)
    activated = await store.billing.activate(jid, plan, at=now, renewal_day=renewal_day_of(now))
    await lift_billing_freeze(cycle, jid, now)  # a trial that had ended
    await store.billing.unschedule(keys.TRIAL_ENDS, jid)
    await renew_account(cycle, jid, now)
    return activated


async def lift_billing_freeze(cycle: Cycle, jid: str, now: datetime) -> bool:
    """Lift the billing freeze of ``jid`` (and its leaves) once nothing is owed."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None:
        return False
    owed = await store.billing.owed(jid)
    if owed.units:
        return False
    lifted = None
    if billing_freeze_may_lift(sub.account, owed, now):
        # Leaves first: a crash after them leaves the main frozen, and its next
        # credit comes back here; the other order could strand frozen leaves.
        await _lift_leaves(cycle, sub)
        lifted = await store.freezes.lift(jid, FreezeKind.BILLING, LiftIf.PAID)
    await store.billing.unschedule(keys.UNPAID, jid)
    if lifted is not None:
        await store.billing.unschedule(keys.BILLING_FROZEN, jid)
        await cycle.tell(notices.unfrozen(jid, lifted.when.isoformat()))
    return lifted is not None


async def _lift_leaves(cycle: Cycle, sub: Subscriber) -> None:
    if not sub.group or sub.account.kind is not AccountKind.PAID:
        return
    group = await cycle.store.groups.get(sub.group)
    if group is None or group.main != sub.account.jid:
        return
    for leaf in group.leaves:
        lifted = await cycle.store.freezes.lift(leaf, FreezeKind.BILLING, LiftIf.ANY)
        if lifted is not None:
            await cycle.tell(notices.unfrozen(leaf, lifted.when.isoformat()))


# --- unpaid: freeze and close ---------------------------------------------------


class Froze(StrEnum):
    FROZEN = "frozen"
    ALREADY = "already_frozen"
    NOT_DUE = "not_due"  # still in grace (or trial not over)
    PAID = "paid"  # nothing owed any more: dropped from the schedule
    GONE = "gone"  # no such active account


async def freeze_unpaid(cycle: Cycle, jid: str, now: datetime) -> Froze:
    """Freeze a main whose grace is over (and its leaves with it)."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed:
        await store.billing.unschedule(keys.UNPAID, jid)
        return Froze.GONE
    owed = await store.billing.owed(jid)
    since = sub.state.unpaid_since or await store.billing.scheduled_at(keys.UNPAID, jid)
    if not owed.units or since is None:
        await lift_billing_freeze(cycle, jid, now)
        return Froze.PAID
    if grace_ends(since, cycle.policy) > now:
        return Froze.NOT_DUE
    why = f"unpaid since {day_label(since)}: {owed} owed"
    record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, state_of(sub.account))
    result = await store.freezes.freeze(jid, record, FreezeIf.OWING)
    if result not in (Frozen.ADDED, Frozen.ALREADY):
        return Froze.PAID if result is Frozen.NOT_NOW else Froze.GONE
    frozen_at = await _frozen_at(cycle, jid, now)
    await store.billing.schedule(keys.BILLING_FROZEN, jid, frozen_at, nx=True)
    closes = closes_at(frozen_at, cycle.policy)
    await cycle.tell(notices.frozen(jid, owed, closes, since.isoformat()))
    await _freeze_leaves(cycle, sub, now, since.isoformat())
    return Froze.FROZEN if result is Frozen.ADDED else Froze.ALREADY


async def _frozen_at(cycle: Cycle, jid: str, now: datetime) -> datetime:
    record = await cycle.store.freezes.record(jid, FreezeKind.BILLING)
    return record.when if record is not None else now


async def _freeze_leaves(cycle: Cycle, sub: Subscriber, now: datetime, since: str) -> None:
    store, jid = cycle.store, sub.account.jid
    group = await store.groups.get(sub.group) if sub.group else None
    if group is None or group.main != jid:
        return
    for leaf in group.leaves:
        leaf_sub = await store.billing.subscriber(leaf)
        if leaf_sub is None:
            continue
        why = f"frozen with {jid}, who pays for it"
        record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, state_of(leaf_sub.account))
        if await store.freezes.freeze(leaf, record, FreezeIf.ANY) is Frozen.ADDED:
            await cycle.tell(notices.leaf_frozen(leaf, jid, since))
    # A payment may have landed while we froze the leaves: lift them again then.
    if FreezeKind.BILLING not in await store.freezes.records(jid):
        await _lift_leaves(cycle, sub)


async def end_trial(cycle: Cycle, jid: str, now: datetime) -> Froze:
    """A trial past its end is frozen until its activation (the freeze chore)."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed or sub.account.kind is not AccountKind.TRIAL:
        await store.billing.unschedule(keys.TRIAL_ENDS, jid)
        if sub is not None and sub.account.next_renewal_at is not None:
            await _ensure_renewal_scheduled(cycle, jid, sub.account.next_renewal_at)
        return Froze.GONE
    ends = sub.account.trial_ends_at
    if ends is not None and ends > now:
        await store.billing.schedule(keys.TRIAL_ENDS, jid, ends)
        return Froze.NOT_DUE
    why = "trial ended"
    record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, state_of(sub.account))
    result = await store.freezes.freeze(jid, record, FreezeIf.TRIAL)
    if result in (Frozen.ADDED, Frozen.ALREADY):
        frozen_at = await _frozen_at(cycle, jid, now)
        await store.billing.schedule(keys.BILLING_FROZEN, jid, frozen_at, nx=True)
        await cycle.tell(notices.trial_ended(jid, cycle.policy.activation_amount))
    await store.billing.unschedule(keys.TRIAL_ENDS, jid)
    return Froze.FROZEN if result is Frozen.ADDED else Froze.ALREADY


async def _ensure_renewal_scheduled(cycle: Cycle, jid: str, at: datetime) -> None:
    if await cycle.store.billing.scheduled_at(keys.RENEWALS, jid) is None:
        await cycle.store.billing.schedule(keys.RENEWALS, jid, at)


class Closed(StrEnum):
    CLOSED = "closed"
    NOT_DUE = "not_due"
    NOT_FROZEN = "not_frozen"  # paid (or lifted by an operator) meanwhile
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Closure:
    result: Closed
    number: str = ""
    detached: tuple[str, ...] = field(default_factory=tuple)


async def close_frozen(cycle: Cycle, jid: str, now: datetime) -> Closure:
    """Close an account billing-frozen ``close_after_days``: leaves detached, number released."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed:
        await store.billing.unschedule(keys.BILLING_FROZEN, jid)
        return Closure(Closed.GONE)
    record = await store.freezes.record(jid, FreezeKind.BILLING)
    if record is None:
        await store.billing.unschedule(keys.BILLING_FROZEN, jid)
        return Closure(Closed.NOT_FROZEN)
    if closes_at(record.when, cycle.policy) > now:
        await store.billing.schedule(keys.BILLING_FROZEN, jid, record.when)
        return Closure(Closed.NOT_DUE)
    detached = await _detach_leaves(cycle, sub, now)
    # Told first: a crash after it re-runs to the same (deduplicated) message.
    await cycle.tell(notices.closed(jid, sub.account.number))
    await store.billing.close(jid, at=now, why=record.why)
    for schedule in (keys.RENEWALS, keys.UNPAID, keys.TRIAL_ENDS, keys.BILLING_FROZEN):
        await store.billing.unschedule(schedule, jid)
    return Closure(Closed.CLOSED, sub.account.number, tuple(detached))


async def _detach_leaves(cycle: Cycle, sub: Subscriber, now: datetime) -> list[str]:
    store, jid = cycle.store, sub.account.jid
    group = await store.groups.get(sub.group) if sub.group else None
    if group is None or group.main != jid:
        return []
    detached = []
    why = f"{jid}, who paid for it, was closed; top up to activate"
    for leaf in group.leaves:
        record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, {"paid_by": jid})
        await cycle.tell(notices.leaf_detached(leaf, jid, cycle.policy.activation_amount))
        await store.groups.detach(group.index, leaf, record, at=now)
        await store.billing.schedule(keys.BILLING_FROZEN, leaf, now, nx=True)
        detached.append(leaf)
    await store.groups.dissolve(group.index, jid)
    return detached


# --- operators ----------------------------------------------------------------


async def operator_freeze(
    cycle: Cycle, jid: str, kind: FreezeKind, reason: str, now: datetime
) -> Frozen:
    """An operator freezes an account (any kind; only an operator lifts the others)."""
    sub = await cycle.store.billing.subscriber(jid)
    state = state_of(sub.account) if sub is not None else {}
    record = FreezeRecord(kind, cycle.actor, now, reason, state)
    result = await cycle.store.freezes.freeze(jid, record, FreezeIf.ANY)
    if result is Frozen.ADDED:
        if kind is FreezeKind.BILLING:
            await cycle.store.billing.schedule(keys.BILLING_FROZEN, jid, now, nx=True)
        await cycle.tell(notices.operator_frozen(jid, reason, now.isoformat()))
    return result


async def operator_unfreeze(cycle: Cycle, jid: str, kind: FreezeKind) -> FreezeRecord | None:
    lifted = await cycle.store.freezes.lift(jid, kind, LiftIf.ANY)
    if lifted is not None:
        if kind is FreezeKind.BILLING:
            await cycle.store.billing.unschedule(keys.BILLING_FROZEN, jid)
        await cycle.tell(notices.operator_unfrozen(jid, lifted.when.isoformat()))
    return lifted


async def frozen_line(cycle: Cycle, jid: str) -> str:
    """For a frozen account, the line to show on every interaction ('' when not frozen)."""
    records = await cycle.store.freezes.records(jid)
    if not records:
        return ""
    account = await cycle.store.accounts.get(jid)
    trial = account is not None and account.kind is AccountKind.TRIAL
    owed = await cycle.store.billing.owed(jid)
    reasons = {kind.value: record.why for kind, record in records.items()}
    return notices.frozen_line(reasons, owed, cycle.policy.activation_amount, trial)


# --- reminders ------------------------------------------------------------------


async def remind_unpaid(cycle: Cycle, jid: str, now: datetime, *, send: bool) -> list[Notice]:
    """The weekly reminder (with the invoices) and, near closure, the closure warning."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed:
        return []
    owed = await store.billing.owed(jid)
    since = sub.state.unpaid_since
    if not owed.units or since is None:
        return []
    due: list[Notice] = []
    number = reminder_number(since, now, cycle.policy)
    if number >= 1:
        open_invoices = [i for i in await store.billing.invoices(jid) if i.open]
        due.append(notices.unpaid_reminder(jid, owed, open_invoices, number, since.isoformat()))
    record = await store.freezes.record(jid, FreezeKind.BILLING)
    if record is not None and closure_warning_due(record.when, now, cycle.policy):
        closes = closes_at(record.when, cycle.policy)
        due.append(notices.closure_warning(jid, owed, closes, record.when.isoformat()))
    return [n for n in due if not send or await cycle.tell(n)]


async def warn_low_balance(cycle: Cycle, jid: str, now: datetime, *, send: bool) -> list[Notice]:
    """Before a renewal the balances will not cover (once per period)."""
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None or sub.account.next_renewal_at is None:
        return []
    preview = await preview_renewal(cycle, jid, sub.account.next_renewal_at)
    if preview.result is not Renewed.INVOICED:
        return []
    needed = total_of((line for line, _ in preview.lines), cycle.policy.currency)
    balance = (await cycle.store.ledger.balances(jid)).total
    notice = notices.low_balance(jid, needed, balance, sub.account.next_renewal_at, preview.period)
    return [notice] if not send or await cycle.tell(notice) else []


async def warn_trial_ending(cycle: Cycle, jid: str, now: datetime, *, send: bool) -> list[Notice]:
    account = await cycle.store.accounts.get(jid)
    if account is None or account.kind is not AccountKind.TRIAL or account.trial_ends_at is None:
        return []
    if account.closed or account.trial_ends_at <= now:
        return []
    notice = notices.trial_ending(jid, account.trial_ends_at, cycle.policy.activation_amount)
    return [notice] if not send or await cycle.tell(notice) else []


# --- dry runs of the freeze and close chores ---------------------------------------


async def freeze_is_due(cycle: Cycle, jid: str, now: datetime) -> bool:
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None or sub.account.closed or FreezeKind.BILLING in sub.account.freezes:
        return False
    since = sub.state.unpaid_since
    owed = await cycle.store.billing.owed(jid)
    return bool(owed.units) and since is not None and grace_ends(since, cycle.policy) <= now


async def trial_end_is_due(cycle: Cycle, jid: str, now: datetime) -> bool:
    account = await cycle.store.accounts.get(jid)
    if account is None or account.closed or account.kind is not AccountKind.TRIAL:
        return False
    ended = account.trial_ends_at is None or account.trial_ends_at <= now
    return ended and FreezeKind.BILLING not in account.freezes


async def close_is_due(cycle: Cycle, jid: str, now: datetime) -> bool:
    account = await cycle.store.accounts.get(jid)
    if account is None or account.closed:
        return False
    record = await cycle.store.freezes.record(jid, FreezeKind.BILLING)
    return record is not None and closes_at(record.when, cycle.policy) <= now

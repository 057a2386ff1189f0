"""Freezes and closure: an unpaid account frozen after its grace (its leaves
with it), a trial frozen when it ends, lifted once nothing is owed, closed
after ``close_after_days`` frozen; operators' freezes of any kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from payments import keys
from payments.accounts.freeze_store import FreezeIf, Frozen, LiftIf
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing import texts as notices
from payments.billing.cycle import Cycle
from payments.billing.rules import (
    FreezeRecord,
    Subscriber,
    billing_freeze_may_lift,
    closes_at,
    grace_ends,
    state_of,
)
from payments.clock import day_label


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
        await cycle.store.outbox.notify(notices.unfrozen(jid, lifted.when.isoformat()))
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
            await cycle.store.outbox.notify(notices.unfrozen(leaf, lifted.when.isoformat()))


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
    await cycle.store.outbox.notify(notices.frozen(jid, owed, closes, since.isoformat()))
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
            await cycle.store.outbox.notify(notices.leaf_frozen(leaf, jid, since))
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
        await cycle.store.outbox.notify(notices.trial_ended(jid, cycle.policy.activation_amount))
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
    await cycle.store.outbox.notify(notices.closed(jid, sub.account.number))
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
        await cycle.store.outbox.notify(
            notices.leaf_detached(leaf, jid, cycle.policy.activation_amount)
        )
        await store.groups.detach(group.index, leaf, record, at=now)
        await store.billing.schedule(keys.BILLING_FROZEN, leaf, now, nx=True)
        detached.append(leaf)
    await store.groups.dissolve(group.index, jid)
    return detached


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
        await cycle.store.outbox.notify(notices.operator_frozen(jid, reason, now.isoformat()))
    return result


async def operator_unfreeze(cycle: Cycle, jid: str, kind: FreezeKind) -> FreezeRecord | None:
    lifted = await cycle.store.freezes.lift(jid, kind, LiftIf.ANY)
    if lifted is not None:
        if kind is FreezeKind.BILLING:
            await cycle.store.billing.unschedule(keys.BILLING_FROZEN, jid)
        await cycle.store.outbox.notify(notices.operator_unfrozen(jid, lifted.when.isoformat()))
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

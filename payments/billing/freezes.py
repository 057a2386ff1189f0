"""Freezes and closure: an unpaid account frozen after its grace (its leaves with
it), a trial frozen when it ends (activated instead if it holds the activation
amount), closed after ``close_after_days`` frozen; operators' freezes.

Every freeze and the closure is one script that checks, at commit, that what
the chore read still holds (the debt since the same instant, the same trial
end, the same freeze record), so a payment that lands meanwhile wins. Each
function drops a stale schedule entry only after looking at the account, and
looks again after dropping it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from payments import keys
from payments.accounts.freeze_store import FreezeIf, Frozen, LiftIf
from payments.accounts.records import AccountKind, FreezeKind, FreezeRecord, state_of
from payments.billing import texts as notices
from payments.billing.activation import activate_if_due
from payments.billing.cycle import Cycle
from payments.billing.lifting import after_unfreeze, lift_leaves, schedule_held_renewal
from payments.billing.rules import Subscriber, closes_at, grace_ends
from payments.clock import day_label


class Froze(StrEnum):
    FROZEN = "frozen"
    ALREADY = "already_frozen"
    NOT_DUE = "not_due"  # still in grace (or trial not over)
    PAID = "paid"  # nothing owed any more: dropped from the schedule
    ACTIVATED = "activated"  # a trial that ended holding the activation amount
    GONE = "gone"  # no such active account


async def freeze_unpaid(cycle: Cycle, jid: str, now: datetime) -> Froze:
    """Freeze an account whose grace is over (a main with its leaves)."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    owed = await store.billing.owed(jid)
    since = sub.state.unpaid_since if sub is not None else None
    if sub is None or sub.account.closed or not owed.units or since is None:
        await _drop(cycle, keys.UNPAID, jid, now, owing)
        return Froze.GONE if sub is None or sub.account.closed else Froze.PAID
    if grace_ends(since, cycle.policy) > now:
        await store.schedules.add(keys.UNPAID, jid, since)
        return Froze.NOT_DUE
    why = f"unpaid since {day_label(since)}: {owed} owed"
    record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, state_of(sub.account))
    await store.schedules.add_early(keys.BILLING_FROZEN, jid, now)
    result = await store.freezes.freeze(jid, record, FreezeIf.OWING, sub.fields["unpaid_since"])
    if result not in (Frozen.ADDED, Frozen.ALREADY):
        return Froze.PAID if result is Frozen.NOT_NOW else Froze.GONE
    if result is Frozen.ADDED:
        closes = closes_at(now, cycle.policy)
        await store.outbox.notify(notices.frozen(jid, owed, closes, since.isoformat()))
    await _freeze_leaves(cycle, sub, now, since.isoformat())
    return Froze.FROZEN if result is Frozen.ADDED else Froze.ALREADY


async def owing(cycle: Cycle, jid: str) -> bool:
    sub = await cycle.store.billing.subscriber(jid)
    return sub is not None and not sub.account.closed and bool(await cycle.store.billing.owed(jid))


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
        state = {**state_of(leaf_sub.account), "frozen_with": jid}
        record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, state)
        if await store.freezes.freeze(leaf, record, FreezeIf.ANY) is Frozen.ADDED:
            await store.outbox.notify(notices.leaf_frozen(leaf, jid, since))
    # A payment may have landed while we froze the leaves: lift them again then.
    main = await store.billing.subscriber(jid)
    if main is not None:
        await lift_leaves(cycle, main)


async def end_trial(cycle: Cycle, jid: str, now: datetime) -> Froze:
    """A trial past its end: activated if it holds the activation amount, else frozen."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed or sub.account.kind is not AccountKind.TRIAL:
        await _drop(cycle, keys.TRIAL_ENDS, jid, now, _is_trial)
        return Froze.GONE
    ends = sub.account.trial_ends_at
    if ends is not None and ends > now:
        await store.schedules.add(keys.TRIAL_ENDS, jid, ends)
        return Froze.NOT_DUE
    if await activate_if_due(cycle, sub, now):
        return Froze.ACTIVATED
    record = FreezeRecord(
        FreezeKind.BILLING, cycle.actor, now, "trial ended", state_of(sub.account)
    )
    await store.schedules.add_early(keys.BILLING_FROZEN, jid, now)
    guard = sub.fields.get("trial_ends_at", "")
    result = await store.freezes.freeze(jid, record, FreezeIf.TRIAL, guard)
    if result is Frozen.ADDED:
        activation = cycle.policy_in(sub.account.currency).activation_amount
        await store.outbox.notify(notices.trial_ended(jid, activation))
    if result in (Frozen.ADDED, Frozen.ALREADY):
        await _drop(cycle, keys.TRIAL_ENDS, jid, now, _unfrozen_trial)
    return Froze.FROZEN if result is Frozen.ADDED else Froze.ALREADY


async def _is_trial(cycle: Cycle, jid: str) -> bool:
    account = await cycle.store.accounts.get(jid)
    return account is not None and not account.closed and account.kind is AccountKind.TRIAL


async def _unfrozen_trial(cycle: Cycle, jid: str) -> bool:
    account = await cycle.store.accounts.get(jid)
    return (
        account is not None
        and not account.closed
        and account.kind is AccountKind.TRIAL
        and FreezeKind.BILLING not in account.freezes
    )


Needed = Callable[[Cycle, str], Awaitable[bool]]


async def _drop(cycle: Cycle, schedule: str, jid: str, now: datetime, needed: Needed) -> None:
    """Drop ``jid`` from ``schedule``, then look again: a change that landed meanwhile
    (a new debt, a reopened trial) puts it back at once."""
    await cycle.store.schedules.remove(schedule, jid)
    if await needed(cycle, jid):
        await cycle.store.schedules.add_early(schedule, jid, now)


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
    """Close an account billing-frozen ``close_after_days``, if it still owes at commit;
    then detach its leaves (a main) or leave its group (a leaf)."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed:
        await _drop(cycle, keys.BILLING_FROZEN, jid, now, _billing_frozen)
        return Closure(Closed.GONE)
    record = await store.freezes.record(jid, FreezeKind.BILLING)
    if record is None:
        await _drop(cycle, keys.BILLING_FROZEN, jid, now, _billing_frozen)
        return Closure(Closed.NOT_FROZEN)
    if closes_at(record.when, cycle.policy) > now:
        await store.schedules.add(keys.BILLING_FROZEN, jid, record.when)
        return Closure(Closed.NOT_DUE)
    number = await store.billing.close(jid, record, at=now)
    if number is None:  # paid meanwhile (or closed by another host)
        return Closure(Closed.NOT_FROZEN)
    await store.outbox.notify(notices.closed(jid, number))
    for schedule in (keys.RENEWALS, keys.UNPAID, keys.TRIAL_ENDS, keys.BILLING_FROZEN):
        await store.schedules.remove(schedule, jid)  # closed: nothing is due (register re-adds)
    detached = await part_from_group(cycle, jid, now)
    return Closure(Closed.CLOSED, number, tuple(detached))


async def _billing_frozen(cycle: Cycle, jid: str) -> bool:
    account = await cycle.store.accounts.get(jid)
    return account is not None and not account.closed and FreezeKind.BILLING in account.freezes


async def part_from_group(cycle: Cycle, jid: str, now: datetime) -> list[str]:
    """A closed account leaves its payer group: a main's leaves are detached (each a
    trial that ended, frozen until it tops up), a leaf is dropped from its main's list
    (so no renewal bills for it). Idempotent: the repair chore finishes it."""
    store = cycle.store
    index = await store.groups.index_of(jid)
    group = await store.groups.get(index)
    if group is None:
        return []
    if group.main != jid:
        await store.groups.drop_closed_leaf(index, jid)
        return []
    detached = []
    why = f"{jid}, who paid for it, was closed; top up to activate"
    activation = cycle.policy_in(await store.currencies.of(jid)).activation_amount
    for leaf in group.leaves:
        record = FreezeRecord(FreezeKind.BILLING, cycle.actor, now, why, {"paid_by": jid})
        await store.outbox.notify(notices.leaf_detached(leaf, jid, activation))
        await store.schedules.add_early(keys.BILLING_FROZEN, leaf, now)
        await store.groups.detach(group.index, leaf, record, at=now)
        detached.append(leaf)
    await store.groups.dissolve(group.index, jid)
    return detached


# --- operators ------------------------------------------------------------------------


async def operator_freeze(
    cycle: Cycle, jid: str, kind: FreezeKind, reason: str, now: datetime
) -> Frozen:
    """An operator freezes an account (any kind; only an operator lifts the others)."""
    sub = await cycle.store.billing.subscriber(jid)
    state = state_of(sub.account) if sub is not None else {}
    record = FreezeRecord(kind, cycle.actor, now, reason, state)
    if kind is FreezeKind.BILLING:
        await cycle.store.schedules.add_early(keys.BILLING_FROZEN, jid, now)
    result = await cycle.store.freezes.freeze(jid, record, FreezeIf.ANY)
    if result is Frozen.ADDED:
        await cycle.store.outbox.notify(notices.operator_frozen(jid, reason, now.isoformat()))
    return result


async def operator_unfreeze(
    cycle: Cycle, jid: str, kind: FreezeKind, now: datetime
) -> FreezeRecord | None:
    """An operator lifts one freeze. A billing freeze is the chores' to keep: an account
    that still owes (or a trial that ended) is frozen again by the next freeze chore."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if kind is FreezeKind.BILLING and sub is not None:
        for schedule in (keys.UNPAID, keys.TRIAL_ENDS):  # the chores look at it again
            await store.schedules.add_early(schedule, jid, now)
        await schedule_held_renewal(cycle, sub, now)
    lifted = await store.freezes.lift(jid, kind, LiftIf.ANY)
    if lifted is None:
        return None
    await store.outbox.notify(notices.operator_unfrozen(jid, lifted.when.isoformat()))
    if kind is FreezeKind.BILLING:
        await after_unfreeze(cycle, jid, lifted, now)
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
    activation = cycle.policy_in(owed.currency).activation_amount
    return notices.frozen_line(reasons, owed, activation, trial)


# --- dry runs ---------------------------------------------------------------------------


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

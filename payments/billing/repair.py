"""Repair: finish what crashes left half done, and rebuild the schedules from state.

Every change of one account is atomic, but work across accounts is a chain
of steps (a join, a leave, a closure detaching leaves, a main's unfreeze
lifting its leaves), and the schedules are indexes written beside the
accounts. A crash between two steps leaves a state that is consistent but
unfinished; the repair looks at every account of the registry and finishes
it from the account's own state, without waiting for a user to act:

- a join or a leave in flight (``group_move``), or a join a main paid for
  (``group_joins``): run to its end;
- a closed account still in a payer group: its leaves detached, or itself
  dropped from its main's list;
- a leaf still frozen with a main that is not frozen: lifted;
- a trial holding the activation amount and owing nothing: activated;
- a schedule entry missing for what the account is due for (a renewal, a
  debt, a freeze to close, a trial to end, credits to expire, usage to
  settle, an open invoice to try on its saved cards): written (never later
  than due; stale extra entries are dropped by the chores that read them).

``repair_fixes`` decides from a ``RepairView`` (one pipelined read of an
account's keys) what to do, with no I/O; ``repair_account`` does it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from payments import keys
from payments.accounts.records import AccountKind, FreezeKind, FreezeRecord
from payments.billing.activation import activate_if_due
from payments.billing.cycle import Cycle
from payments.billing.freezes import part_from_group
from payments.billing.lifting import lift_leaves
from payments.billing.repair_view import RepairView
from payments.clock import epoch, parse_instant
from payments.groups import flow as groups


class Fix(StrEnum):
    FINISH_MOVE = "finish_move"
    PART_FROM_GROUP = "part_from_group"
    LIFT_LEAVES = "lift_leaves"
    ACTIVATE = "activate"
    SCHEDULE = "schedule"  # entries written (counted per schedule in the report)


@dataclass(frozen=True, slots=True)
class Fixes:
    fixes: tuple[Fix, ...] = ()
    entries: tuple[tuple[str, datetime], ...] = ()  # (schedule, when) to write
    referred_by: str = ""  # its referrer: the repair of referrals looks at it too
    account_move: bool = False  # a move of it (or to it) to finish: the repair of moves


def repair_fixes(view: RepairView, now: datetime, activation_units: int) -> Fixes:
    """What ``view``'s account needs: the rules of the repair, without I/O."""
    if not view.account:
        return Fixes()
    fixes: list[Fix] = []
    if view.move or view.unfinished_joins:
        fixes.append(Fix.FINISH_MOVE)
    status, kind = view.account.get("status"), view.account.get("kind")
    if status == "closed":
        return Fixes((*fixes, Fix.PART_FROM_GROUP) if view.group else tuple(fixes))
    if kind == AccountKind.PAID and view.main == view.jid and "billing" not in view.freezes:
        fixes.append(Fix.LIFT_LEAVES)
    owes = view.open_invoices > 0
    if kind == AccountKind.TRIAL and view.prepaid >= activation_units and not owes:
        fixes.append(Fix.ACTIVATE)
    entries = [e for e in _expected(view, now) if _missing(view, *e)]
    if entries:
        fixes.append(Fix.SCHEDULE)
    return Fixes(tuple(fixes), tuple(entries))


def _expected(view: RepairView, now: datetime) -> list[tuple[str, datetime]]:
    account, kind = view.account, view.account.get("kind")
    expected = []
    renewal = parse_instant(account.get("next_renewal_at"))
    if kind == AccountKind.PAID and renewal is not None and not account.get("renewal_held"):
        expected.append((keys.RENEWALS, renewal))
    if view.open_invoices:
        expected.append((keys.UNPAID, parse_instant(account.get("unpaid_since")) or now))
    if view.open_invoices and view.cards:  # its cards are tried as the retry schedule says
        expected.append((keys.CARD_DUE, parse_instant(account.get("unpaid_since")) or now))
    billing = view.freezes.get(FreezeKind.BILLING.value)
    record = FreezeRecord.decode("billing", billing) if billing else None
    # A leaf frozen with its main follows the main's closure; an operator's freeze of its
    # own is closed like any account's.
    if record is not None and not record.state.get("frozen_with"):
        expected.append((keys.BILLING_FROZEN, record.when))
    ends = parse_instant(account.get("trial_ends_at"))
    if kind == AccountKind.TRIAL and ends is not None and not billing:
        expected.append((keys.TRIAL_ENDS, ends))
    expiry = min(view.grants, default=None)
    if expiry is not None:
        expected.append((keys.CREDIT_EXPIRIES, expiry))
    if view.usage_open:
        expected.append((keys.USAGE_UNSETTLED, now))
    return expected


def _missing(view: RepairView, schedule: str, when: datetime) -> bool:
    score = view.scheduled.get(schedule)
    if schedule == keys.USAGE_UNSETTLED:  # a count of batches, not a time: present is enough
        return score is None
    return score is None or score > epoch(when)


async def repair_account(cycle: Cycle, jid: str, now: datetime, *, dry_run: bool) -> Fixes:
    """Look at ``jid`` and finish what it needs; with ``dry_run``, only say what."""
    store = cycle.store
    view = await store.billing.repair_view(jid)
    fixes = replace(
        repair_fixes(view, now, cycle.policy.activation_amount.units),
        referred_by=view.account.get("referred_by", ""),
        account_move=view.account_move in ("claimed", "sealed")
        or view.account.get("status") == "moving",
    )
    if dry_run or not fixes.fixes:
        return fixes
    if Fix.FINISH_MOVE in fixes.fixes:
        await groups.resume(groups.GroupFlow(store, cycle.policy, cycle.actor), jid, now)
    if Fix.PART_FROM_GROUP in fixes.fixes:
        await part_from_group(cycle, jid, now)
    sub = await store.billing.subscriber(jid)
    if Fix.LIFT_LEAVES in fixes.fixes and sub is not None:
        await lift_leaves(cycle, sub)
    if Fix.ACTIVATE in fixes.fixes and sub is not None:
        await activate_if_due(cycle, sub, now)
    for schedule, when in fixes.entries:
        if schedule == keys.USAGE_UNSETTLED:
            await store.usage.mark_unsettled(jid)
        else:
            await store.schedules.add_early(schedule, jid, when)
    return fixes

"""Joining and leaving payer groups: sequences of single-account steps, safe to run again.

No Lua script or MULTI touches two accounts: a join touches the
leaf's slot, the main's slot, the group list's slot and a global schedule,
one atomic step at a time. The first step writes the move on the leaf's side
(``payment-group_move-{LEAF}``: main, index, the idempotency key and price
of the charge, the plan snapshot), so running the flow again, or the next
group command of either account (``resume``), finishes the same move.

A join, in order (each step idempotent):

1. leaf: record the move (refused unless the leaf is an active trial, or a
   new JID with a referral code, in no group, holding no money).
2. main: charge once per ``join:PERIOD:LEAF``, all or nothing, and note the
   leaf among the main's unfinished joins. Refused: the move is dropped and
   the main told the amount to top up. Nothing else has changed.
3. leaf: become a leaf (index, kind, snapshot ``paid_by`` the main). Refused
   (the leaf changed meanwhile, e.g. topped up): the main is refunded and the
   move dropped.
4. list: the leaf is added after its main; from here renewals charge for it.
5. leaf: a "trial ended" freeze is lifted; its trial-end schedule dropped.
6. the main is told (deduplicated by the charge's key).
7. leaf: the move is dropped. 8. main: the leaf leaves the unfinished joins
   (the next ``resume`` of either account does it if a crash came first).

Between 2 and 4 the main has paid and the leaf is not listed: a renewal in
that window does not charge for the leaf (the operator loses at most a
month of one leaf, the user never pays twice). A leave, in order:

1. leaf: record the move (with ``paid_until``, the end of the period paid).
2. list: drop the leaf (renewals no longer charge for it: the point of no return).
3. global: schedule the leaf's trial end at ``paid_until``.
4. both sides are told (deduplicated). 5. leaf: it becomes a trial ending at
   ``paid_until`` and the move is dropped in the same step. 6. the schedule
   again (a freeze chore that ran between 3 and 5 dropped it: still a leaf).

``GroupFlow.hook`` is called at every step boundary with the step's name:
the tests raise there to simulate a crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments import keys
from payments.accounts.freeze_store import LiftIf
from payments.accounts.records import FreezeKind
from payments.billing.rules import Subscriber
from payments.catalog.records import Plan
from payments.codes import GROUP_CODES, CodeRefused
from payments.config import BillingConfig
from payments.errors import InsufficientFunds, PaymentsError
from payments.groups import texts as group_notices
from payments.groups.rules import (
    CodeClaim,
    CodeKind,
    CodeUse,
    GroupBusy,
    GroupCode,
    JoinPrice,
    JoinRefusal,
    JoinUnpaid,
    LeafRefused,
    Move,
    MoveOp,
    NotAMember,
    check_uses,
    code_expiry,
    join_price,
    join_ref,
    leaf_refusal,
    main_refusal,
    paid_until_after_leaving,
)
from payments.groups.store import LeafJoined, MoveStatus
from payments.money import Money
from payments.store.locks import new_token
from payments.stores import Store

StepHook = Callable[[str], Awaitable[None]]


class Step(StrEnum):
    """The step boundaries of a join and a leave, where ``GroupFlow.hook`` is called."""

    MOVE_RECORDED = "move_recorded"
    MAIN_CHARGED = "main_charged"
    LEAF_JOINED = "leaf_joined"
    LISTED = "listed"
    TOLD = "told"
    MOVE_DROPPED = "move_dropped"
    UNLISTED = "unlisted"
    LEAVE_TOLD = "leave_told"


JOIN_STEPS = (
    Step.MOVE_RECORDED,
    Step.MAIN_CHARGED,
    Step.LEAF_JOINED,
    Step.LISTED,
    Step.TOLD,
    Step.MOVE_DROPPED,
)
LEAVE_STEPS = (Step.MOVE_RECORDED, Step.UNLISTED, Step.LEAVE_TOLD)


@dataclass(frozen=True, slots=True)
class GroupFlow:
    store: Store
    policy: BillingConfig
    actor: str = "bot"
    hook: StepHook | None = None

    async def step(self, name: Step) -> None:
        if self.hook is not None:
            await self.hook(name.value)


@dataclass(frozen=True, slots=True)
class Joined:
    main: str
    leaf: str
    price: JoinPrice | None  # None: it was a leaf of that main before this call
    already: bool = False


@dataclass(frozen=True, slots=True)
class Left:
    main: str
    leaf: str
    paid_until: datetime


# --- joining ---------------------------------------------------------------------------


async def join(
    flow: GroupFlow, main: str, leaf: str, now: datetime, *, code: str = "", new: bool = False
) -> Joined:
    """``leaf`` joins ``main``'s group, ``main`` pays at once (see the module's steps).

    Raises MainRefused (the main's own state), LeafRefused (the leaf's),
    JoinUnpaid (the main's balance lacks ``missing``) or GroupBusy. Run again
    after a crash, it finishes the join it started (same price, same charge).
    """
    token = new_token()
    if not await flow.store.groups.lock(main, token):
        raise GroupBusy
    try:
        return await _join_locked(flow, main, leaf, now, code, new)
    finally:
        await flow.store.groups.unlock(main, token)


async def _join_locked(
    flow: GroupFlow, main: str, leaf: str, now: datetime, code: str, new: bool
) -> Joined:
    store = flow.store
    move = await store.groups.move(leaf)
    if move is not None and move.op is MoveOp.JOIN and move.main == main:
        return await complete_join(flow, leaf, move)
    await resume(flow, leaf, now)
    await resume(flow, main, now)
    if await store.groups.main_of(leaf) == main:
        return Joined(main, leaf, None, already=True)
    move = await _plan_join(flow, main, leaf, now, code, new)
    status = await store.groups.record_move(leaf, move, new_allowed=new)
    if status is MoveStatus.OTHER:
        raise LeafRefused(JoinRefusal.IN_A_GROUP)
    if status is not MoveStatus.RECORDED:
        raise LeafRefused(await _why_not(flow, main, leaf, new) or JoinRefusal.IN_A_GROUP)
    await flow.step(Step.MOVE_RECORDED)
    return await complete_join(flow, leaf, move)


async def _plan_join(
    flow: GroupFlow, main: str, leaf: str, now: datetime, code: str, new: bool
) -> Move:
    """Check both sides and price the join; the move to record."""
    store = flow.store
    sub = await store.billing.subscriber(main)
    group = await store.groups.get(sub.group) if sub is not None else None
    leaves = len(group.leaves) if group is not None and group.main == main else 0
    refused = main_refusal(sub.account if sub else None, leaves, flow.policy.max_leaves)
    if refused is not None:
        raise refused
    assert sub is not None
    why = await _why_not(flow, main, leaf, new)
    if why is not None:
        raise LeafRefused(why)
    plan = await _leaf_plan(flow, sub)
    price = await _price_now(flow, sub, plan, leaf, now)
    index = await store.groups.create(main)
    return Move(
        MoveOp.JOIN,
        main,
        index,
        now,
        ref=join_ref(price.period, leaf),
        amount=price.amount,
        plan=plan.id,
        version=plan.version,
        price=plan.price,
        code=code,
        paid_until=price.paid_until,
    )


async def _why_not(flow: GroupFlow, main: str, leaf: str, new: bool) -> JoinRefusal | None:
    store = flow.store
    account = await store.accounts.get(leaf)
    money = (await store.ledger.balances(leaf)).total
    clash = account is not None and account.currency != await store.currencies.of(main)
    other = clash and await store.ledger.money_arrived(leaf)
    group = await store.groups.index_of(leaf)
    return leaf_refusal(main, account, group, money, new_allowed=new, other_currency=other)


async def _leaf_plan(flow: GroupFlow, main: Subscriber) -> Plan:
    """A leaf is on its main's plan, at the plan's current price in the main's currency (a
    new purchase)."""
    for plan_id in (main.account.plan, flow.policy.default_plan):
        plan = await flow.store.plans.get_in(plan_id, main.account.currency)
        if plan is not None:
            return plan
    raise LeafRefused(JoinRefusal.NOT_TRIAL)  # no plan on sale: nothing to join


async def _price_now(
    flow: GroupFlow, main: Subscriber, plan: Plan, leaf: str, now: datetime
) -> JoinPrice:
    renewal = main.account.next_renewal_at or now
    paid_until = await flow.store.groups.paid_until(leaf)
    return join_price(plan.price, now, renewal, main.state.renewal_day, paid_until=paid_until)


def _price_of(move: Move) -> JoinPrice:
    """What the move records (in the main's currency)."""
    zero = Money.zero((move.amount or move.price or Money(0)).currency)
    period = move.ref.split(":")[1] if move.ref.count(":") >= 2 else ""
    return JoinPrice(period, move.amount or zero, move.paid_until or move.at, move.price or zero)


async def complete_join(flow: GroupFlow, leaf: str, move: Move) -> Joined:
    """Steps 2 to 8 of a join whose move is recorded; safe to run again."""
    store, price = flow.store, _price_of(move)
    reason = f"{move.plan} for {leaf}, joined (pro-rated to {price.paid_until.date()})"
    charged = await store.groups.charge_join(
        move.main, leaf, price.amount, ref=move.ref, reason=reason, at=move.at, actor=flow.actor
    )
    if charged.refused:
        await store.groups.drop_move(leaf, move)
        await flow.store.outbox.notify(
            group_notices.join_unpaid(move.main, leaf, charged.missing, move.at)
        )
        raise JoinUnpaid(charged.missing)
    await flow.step(Step.MAIN_CHARGED)
    assert move.price is not None
    status = await store.groups.join_leaf(
        move.index, move.main, leaf, move.plan, move.version, move.price, move.at
    )
    if status not in (LeafJoined.JOINED, LeafJoined.ALREADY):
        await _undo_charge(flow, leaf, move)
        raise LeafRefused(_leaf_joined_refusal(status))
    await flow.step(Step.LEAF_JOINED)
    await store.groups.add_member(move.index, move.main, leaf)
    await flow.step(Step.LISTED)
    await _clear_trial_state(flow, leaf)
    await flow.store.outbox.notify(
        group_notices.leaf_joined(move.main, leaf, price, move.ref, move.at)
    )
    await flow.step(Step.TOLD)
    await store.groups.drop_move(leaf, move)
    await flow.step(Step.MOVE_DROPPED)
    await store.groups.finish_join(move.main, leaf)
    return Joined(move.main, leaf, price)


def _leaf_joined_refusal(status: LeafJoined) -> JoinRefusal:
    if status is LeafJoined.HOLDS_MONEY:
        return JoinRefusal.HOLDS_MONEY
    if status is LeafJoined.CURRENCY:
        return JoinRefusal.CURRENCY
    if status is LeafJoined.OTHER_GROUP:
        return JoinRefusal.IN_A_GROUP
    return JoinRefusal.NOT_TRIAL


async def _undo_charge(flow: GroupFlow, leaf: str, move: Move) -> None:
    """The leaf refused at step 3: the main gets its money back (once), the move goes."""
    reason = f"refund: {leaf} could not join"
    await flow.store.groups.refund_join(
        move.main, leaf, ref=move.ref, reason=reason, at=move.at, actor=flow.actor
    )
    await flow.store.groups.drop_move(leaf, move)


async def _clear_trial_state(flow: GroupFlow, leaf: str) -> None:
    """A trial that had ended is paid for now: its billing freeze and schedules go."""
    store = flow.store
    await store.freezes.lift(leaf, FreezeKind.BILLING, LiftIf.ANY)
    for schedule in (keys.TRIAL_ENDS, keys.BILLING_FROZEN):
        await store.schedules.remove(schedule, leaf)


# --- leaving ---------------------------------------------------------------------------


async def leave(flow: GroupFlow, leaf: str, now: datetime, *, by: str = "") -> Left:
    """``leaf`` leaves its group (``by`` the main that removes it, or the leaf itself).

    Run again after a crash, it finishes the leave it started.
    """
    store = flow.store
    move = await store.groups.move(leaf)
    if move is not None and move.op is MoveOp.LEAVE:
        return await complete_leave(flow, leaf, move)
    await resume(flow, leaf, now)
    index = await store.groups.index_of(leaf)
    group = await store.groups.get(index)
    if group is None or leaf not in group.leaves:
        raise NotAMember("Your account is not paid for by another account.")
    main = await store.accounts.get(group.main)
    renewal = main.next_renewal_at if main is not None else None
    paid_until = paid_until_after_leaving(renewal, now)
    move = Move(MoveOp.LEAVE, group.main, index, now, paid_until=paid_until, by=by or leaf)
    status = await store.groups.record_move(leaf, move)
    if status not in (MoveStatus.RECORDED, MoveStatus.IN_FLIGHT):
        raise NotAMember("Your account is not paid for by another account.")
    await flow.step(Step.MOVE_RECORDED)
    if status is MoveStatus.IN_FLIGHT:
        move = await store.groups.move(leaf) or move
    return await complete_leave(flow, leaf, move)


async def remove(flow: GroupFlow, main: str, leaf: str, now: datetime) -> Left:
    """The main stops paying for ``leaf``."""
    await resume(flow, main, now)
    if await flow.store.groups.main_of(leaf) != main:
        raise NotAMember(f"You do not pay for {leaf}.")
    return await leave(flow, leaf, now, by=main)


async def complete_leave(flow: GroupFlow, leaf: str, move: Move) -> Left:
    store = flow.store
    paid_until = move.paid_until or move.at
    await store.groups.remove_member(move.index, leaf)
    await flow.step(Step.UNLISTED)
    await store.schedules.add_early(keys.TRIAL_ENDS, leaf, paid_until)
    by_main = move.by == move.main
    at = move.at.isoformat()
    activation = flow.policy.in_currency(await store.currencies.of(leaf)).activation_amount
    await flow.store.outbox.notify(
        group_notices.leaf_left_main(move.main, leaf, by_main, paid_until, at)
    )
    await flow.store.outbox.notify(
        group_notices.leaf_left_leaf(leaf, move.main, by_main, paid_until, activation, at)
    )
    await flow.step(Step.LEAVE_TOLD)
    await store.groups.leave_leaf(move.index, leaf, paid_until, move.at)
    await store.schedules.add_early(keys.TRIAL_ENDS, leaf, paid_until)
    return Left(move.main, leaf, paid_until)


# --- repair ----------------------------------------------------------------------------


async def resume(flow: GroupFlow, jid: str, now: datetime) -> int:
    """Finish what a crash left half done for ``jid``: its own move, and (a main) the
    joins it was charged for. Returns how many moves were finished."""
    store, done = flow.store, 0
    move = await store.groups.move(jid)
    if move is not None:
        done += await _finish(flow, jid, move)
    elif main := await store.groups.main_of(jid):
        await store.groups.finish_join(main, jid)  # a join cut before its last step
    for leaf in await store.groups.unfinished_joins(jid):
        pending = await store.groups.move(leaf)
        if pending is not None and pending.op is MoveOp.JOIN and pending.main == jid:
            done += await _finish(flow, leaf, pending)
        else:  # finished but for this last step
            await store.groups.finish_join(jid, leaf)
    return done


async def _finish(flow: GroupFlow, leaf: str, move: Move) -> int:
    try:
        if move.op is MoveOp.JOIN:
            await complete_join(flow, leaf, move)
        else:
            await complete_leave(flow, leaf, move)
    except (JoinUnpaid, LeafRefused):
        return 0
    return 1


# --- codes -----------------------------------------------------------------------------


async def invite_jid(flow: GroupFlow, main: str, invitee: str, now: datetime) -> bool:
    """``add JID``: send ``invitee`` an invitation if it is a trial account that may join.

    True when one was sent. The bot answers the main the same whatever this
    returns: the main learns only whether the invitee accepts.
    """
    if await _why_not(flow, main, invitee, False) is not None:
        return False
    if await flow.store.groups.move(invitee) is not None:  # joining or leaving elsewhere
        return False
    plan = await _leaf_plan(flow, await _subscriber(flow, main))
    code = await _new_code(flow, CodeKind.ADD, main, now, invitee=invitee)
    await flow.store.outbox.notify(
        group_notices.invitation(invitee, main, plan.name, code.code, code.expires_at)
    )
    return True


async def check_main(flow: GroupFlow, main: str, now: datetime) -> JoinPrice:
    """What one more leaf costs ``main`` now; MainRefused or InsufficientFunds if it cannot."""
    await resume(flow, main, now)
    sub = await _subscriber(flow, main)
    group = await flow.store.groups.get(sub.group)
    leaves = len(group.leaves) if group is not None and group.main == main else 0
    refused = main_refusal(sub.account, leaves, flow.policy.max_leaves)
    if refused is not None:
        raise refused
    plan = await _leaf_plan(flow, sub)
    price = join_price(plan.price, now, sub.account.next_renewal_at or now, sub.state.renewal_day)
    balance = (await flow.store.ledger.balances(main)).total
    if balance < price.amount:
        raise InsufficientFunds(price.amount - balance)
    return price


async def _subscriber(flow: GroupFlow, main: str) -> Subscriber:
    sub = await flow.store.billing.subscriber(main)
    refused = main_refusal(sub.account if sub else None, 0, 1)
    if refused is not None:
        raise refused
    assert sub is not None
    return sub


async def create_referral(flow: GroupFlow, main: str, now: datetime, uses: int = 1) -> GroupCode:
    await check_main(flow, main, now)
    return await _new_code(
        flow, CodeKind.REFERRAL, main, now, uses=check_uses(uses, flow.policy.max_leaves)
    )


async def _new_code(
    flow: GroupFlow, kind: CodeKind, main: str, now: datetime, *, invitee: str = "", uses: int = 1
) -> GroupCode:
    expires = code_expiry(now, flow.policy.invite_days)
    while True:
        code = GroupCode(GROUP_CODES.new(), kind, main, now, expires, invitee=invitee, uses=uses)
        if await flow.store.groups.create_code(code):
            return code


async def use_code(
    flow: GroupFlow, jid: str, text: str, use: CodeUse, now: datetime, *, attempts_per_hour: int
) -> Joined | None:
    """``accept CODE`` / ``register CODE`` (a join) or ``decline CODE`` (None).

    Every refusal of the code itself raises CodeRefused (one message for all);
    a sender with ``attempts_per_hour`` failures in the hour is refused unread.
    A code this JID used before and whose join is complete is refused too.
    """
    store = flow.store
    if await store.code_attempts.failures(jid) >= attempts_per_hour:
        raise CodeRefused
    code = GROUP_CODES.normalise(text)
    claim, main = (
        await store.groups.claim_code(code, jid, use, now) if code else (CodeClaim.UNKNOWN, "")
    )
    if claim < 0 or code is None:
        await store.code_attempts.record_failure(jid)
        raise CodeRefused
    if use is CodeUse.DECLINE:
        return None
    if claim is CodeClaim.MINE and await _used_before(flow, jid, main):
        await store.code_attempts.record_failure(jid)
        raise CodeRefused
    try:
        return await join(flow, main, jid, now, code=code, new=use is CodeUse.REGISTER)
    except PaymentsError:
        # Refused: nothing happened, the code may be used again. A crash keeps
        # the claim: the same JID's re-run goes on with the join it started.
        await store.groups.unclaim_code(code, jid)
        raise


async def _used_before(flow: GroupFlow, jid: str, main: str) -> bool:
    """This JID's join with that code completed: it is that main's leaf, nothing is left
    to finish (a join cut before its last step is finished by using the code again)."""
    groups = flow.store.groups
    if await groups.move(jid) is not None or await groups.main_of(jid) != main:
        return False
    return jid not in await groups.unfinished_joins(main)


async def decline(flow: GroupFlow, jid: str, text: str, now: datetime, attempts: int) -> None:
    await use_code(flow, jid, text, CodeUse.DECLINE, now, attempts_per_hour=attempts)


# --- who pays for what ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """One account a main pays for (itself first): what ``numbers`` shows."""

    jid: str
    number: str
    plan: str
    monthly: Money  # the price its renewal line charges (its snapshot)
    is_main: bool = False


async def members_of(store: Store, jid: str) -> list[Member]:
    """``jid`` and every leaf it pays for (just ``jid`` when it pays for nobody)."""
    group = await store.groups.of(jid)
    leaves = group.leaves if group is not None and group.main == jid else ()
    members = []
    for member in (jid, *leaves):
        snapshot = await store.billing.current_snapshot(member)
        plan = snapshot.plan if snapshot is not None else ""
        if snapshot is not None:
            monthly = snapshot.price
        else:
            monthly = Money.zero(await store.currencies.of(member))
        number = await store.numbers.of(member)
        members.append(Member(member, number, plan, monthly, member == jid))
    return members


async def payer_of(store: Store, leaf: str) -> tuple[str, str]:
    """The main that pays for ``leaf`` and its number (('', '') for none). Never a balance."""
    main = await store.groups.main_of(leaf)
    return (main, await store.numbers.of(main)) if main else ("", "")

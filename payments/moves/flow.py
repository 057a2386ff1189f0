"""Moving an account to a new JID: the sequence of single-account steps, and its repair.

``ask_move`` (the old JID: ``move NEWJID``) records the offer on the old account and
sends a code to the new JID, if it could receive an account (the reply is the same
either way). ``claim`` (the new JID: ``claim CODE``) or ``operator_move`` (``admin
move OLD NEW``) then runs, in order (each step idempotent):

1. claimed: the code is used by the new JID (global key);
2. reserved: the new JID is held (``move_reserve.lua``: no account, or a trial never
   used; it becomes a placeholder nothing else changes), after it entered the
   account registry;
3. sealed: whatever is in flight on the old account is finished (a join or leave, a
   leaf's draws), then ``move_seal.lua`` closes it in one step: its snapshot in the
   move record, its balances carried out with their ledger entries. Refused (it
   changed, it is closed): the new JID is released, nothing moved;
4. arrived: the new JID becomes the account (``move_arrive.lua``: the snapshot, the
   balances carried in with entries naming the old JID);
5. group: a main's leaves are paid for by the new JID, then the group's list names it
   (a leaf: its main's list names it);
6. number: the phone number points at the new JID;
7. codes: the old JID's referral code and invitation codes are revoked;
8. scheduled: the schedules hold the new JID (the repair of one account: renewals,
   debts, freezes, trial end, credits, usage); 9. told: both JIDs; then the record
   says done.

From step 3 on the move only goes forward: a crash anywhere is finished by the
``repair`` chore (the old account's record is sealed, or the new JID is held with an
offer still there), or by the new JID claiming again. Money that reaches the old JID
afterwards (a late payment) stays on its closed account, as for any closed account
(``register`` reopens it with that money; docs/billing.md says so).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from payments.accounts.numbers import NumberTaken
from payments.accounts.records import AccountStatus
from payments.billing.cycle import Cycle
from payments.billing.repair import repair_account
from payments.codes import MOVE_CODES, CodeRefused
from payments.config import BillingConfig, UsageConfig
from payments.errors import NotAllowed, PaymentsError
from payments.groups import flow as groups
from payments.moves import texts
from payments.moves.rules import MoveRecord, MoveRefused, MoveState, Snapshot, Step
from payments.moves.store import Claimed, Sealed
from payments.stores import Store

StepHook = Callable[[str], Awaitable[None]]
ATTEMPTS: Final = 5  # seals of an account that keeps changing under a move
SEAL_REFUSALS: Final = {
    "no_account": "That account is not open: it cannot move.",
    "busy": "A change of that account's group is in progress: try again in a moment.",
    "changed": "That account kept changing: try again in a moment.",
    "not_claimed": "That move was replaced by another, or is over.",
}


@dataclass(frozen=True, slots=True)
class MoveFlow:
    store: Store
    policy: BillingConfig
    actor: str = "bot"
    hook: StepHook | None = None
    usage: UsageConfig = field(default_factory=UsageConfig)  # late_days: a leaf's draws' ids

    async def step(self, name: Step) -> None:
        if self.hook is not None:
            await self.hook(name.value)


@dataclass(frozen=True, slots=True)
class Moved:
    old: str
    new: str
    id: str


class NotReceivable(PaymentsError):
    """The new JID is an account already (other than a trial never used)."""


# --- asking and claiming ------------------------------------------------------------------


async def ask_move(flow: MoveFlow, old: str, new: str, now: datetime) -> bool:
    """``move NEWJID``: the offer, and a code sent to ``new`` if it could receive the
    account (True); the caller answers the same whatever this returns."""
    if new == old:
        raise NotAllowed("That is your account's own address.")
    store, hours = flow.store, flow.policy.move_code_hours
    expires = now + timedelta(hours=hours)
    code = await _new_code(flow, old, new, now, expires)
    offered = await store.moves.offer(old, code, new, now, expires, code=code, by=old)
    if offered == -2:
        raise MoveRefused("A move of your account is being finished: try again in a moment.")
    if offered < 0:
        raise NotAllowed("You have no open account to move.")
    if not await can_receive(store, new):
        return False
    await store.outbox.notify(texts.offer(new, old, code, expires))
    return True


async def _new_code(flow: MoveFlow, old: str, new: str, now: datetime, expires: datetime) -> str:
    while True:
        code = MOVE_CODES.new()
        if await flow.store.moves.create_code(code, old, new, now, expires):
            return code


async def can_receive(store: Store, new: str) -> bool:
    """No account, or a trial never used (what ``move_reserve.lua`` checks at commit)."""
    account = await store.accounts.get(new)
    if account is None:
        return True
    if not account.open or account.kind.value != "trial" or account.number:
        return False
    if await store.ledger.money_arrived(new) or await store.groups.index_of(new):
        return False
    return not await store.credits.grants(new)


async def claim(flow: MoveFlow, new: str, text: str, now: datetime, *, attempts: int) -> Moved:
    """``claim CODE``: the move that sent it, run to its end (again after a crash: the same
    JID claiming the same code goes on). Every refusal reads as a refused code."""
    store = flow.store
    if await store.code_attempts.failures(new) >= attempts:
        raise CodeRefused
    code = MOVE_CODES.normalise(text)
    old = await store.moves.old_of(code) if code else ""
    claimed = await store.moves.claim(old, code, new, now) if old and code else Claimed.UNKNOWN
    record = await store.moves.record(old) if claimed >= 0 else None
    if record is None:
        await store.code_attempts.record_failure(new)
        raise CodeRefused
    await flow.step(Step.CLAIMED)
    try:
        return await carry_out(flow, old, record, now)
    except NotReceivable:
        raise CodeRefused from None  # the same reply as any refusal


async def operator_move(flow: MoveFlow, old: str, new: str, now: datetime) -> Moved:
    """``admin move OLD NEW``: the same steps, without codes; refusals say why."""
    if new == old:
        raise NotAllowed("The old and the new address are the same.")
    if not await can_receive(flow.store, new):
        raise NotReceivable(f"{new} is an account already (not a trial never used).")
    store, move_id = flow.store, f"op{secrets.token_hex(8)}"
    expires = now + timedelta(minutes=1)
    offered = await store.moves.offer(old, move_id, new, now, expires, code="", by=flow.actor)
    if offered < 0:
        raise MoveRefused(f"{old} has no open account to move, or a move of it is under way.")
    await store.moves.claim(old, move_id, new, now)  # the operator agrees for both
    record = await store.moves.record(old)
    assert record is not None
    return await carry_out(flow, old, record, now)


# --- carrying it out ---------------------------------------------------------------------


async def carry_out(flow: MoveFlow, old: str, record: MoveRecord, now: datetime) -> Moved:
    """From a claimed or a sealed record to the end; safe to run again."""
    if record.state is MoveState.CLAIMED:
        await _seal(flow, old, record, now)
        found = await flow.store.moves.record(old)
        assert found is not None
        record = found
    if record.state is MoveState.SEALED:
        await finish(flow, old, record, now)
    return Moved(old, record.new, record.id)


async def _seal(flow: MoveFlow, old: str, record: MoveRecord, now: datetime) -> None:
    """Steps 2 and 3: the new JID held, then the old account sealed (or the new released)."""
    store, new = flow.store, record.new
    await store.accounts.enlist(new)
    currency = await store.currencies.of(old)
    if await store.moves.reserve(new, record.id, old, now, currency) < 0:
        await store.moves.drop(old, record.id)
        raise NotReceivable(f"{new} is an account already (not a trial never used).")
    await flow.step(Step.RESERVED)
    await groups.resume(groups.GroupFlow(store, flow.policy, flow.actor), old, now)
    transfers = await store.usage.transfers(old)
    await store.usage.apply_transfers(old, transfers, now, flow.usage.late_days)
    status, said = await _sealed(flow, old, record, now)
    if status is Sealed.REFUSED:
        await store.moves.release(new, record.id, now)
        await store.moves.drop(old, record.id)
        raise MoveRefused(SEAL_REFUSALS.get(said, said))
    await flow.step(Step.SEALED)


async def _sealed(
    flow: MoveFlow, old: str, record: MoveRecord, now: datetime
) -> tuple[Sealed, str]:
    """``move_seal.lua``, read again while the account changes under it."""
    for _ in range(ATTEMPTS):
        status, said = await flow.store.moves.seal(old, record.id, record.new, now, flow.actor)
        if status is not Sealed.REFUSED or said != "changed":
            return status, said
    return status, said


async def finish(flow: MoveFlow, old: str, record: MoveRecord, now: datetime) -> None:
    """Steps 4 to 9 of a sealed move; safe to run again."""
    store, new = flow.store, record.new
    snapshot = Snapshot.decode(record.snapshot)
    if await store.moves.arrive(new, record.id, old, snapshot, now, flow.actor) < 0:
        raise MoveRefused(f"{new} is not held for this move: an operator must look at it.")
    await flow.step(Step.ARRIVED)
    await _regroup(flow, old, new, snapshot.group)
    await flow.step(Step.GROUP)
    await _renumber(flow, new, snapshot.number)
    await flow.step(Step.NUMBER)
    await _revoke_codes(flow, old, snapshot, now)
    await flow.step(Step.CODES)
    await repair_account(Cycle(store, flow.policy, flow.actor), new, now, dry_run=False)
    await flow.step(Step.SCHEDULED)
    await store.outbox.notify_many(
        [texts.moved_old(old, new, record.id, now), texts.moved_new(new, old, record.id, now)]
    )
    await flow.step(Step.TOLD)
    await store.moves.done(old, record.id, now)


async def _regroup(flow: MoveFlow, old: str, new: str, index: str) -> None:
    """A main's leaves are paid for by the new JID, then the list names it (the main first:
    a renewal of the new JID bills a leaf once both say so); a leaf's main lists it."""
    store = flow.store
    group = await store.groups.get(index) if index else None
    if group is None:
        return
    if group.main in (old, new):
        for leaf in group.leaves:
            for _ in range(ATTEMPTS):
                if await store.moves.repoint_leaf(leaf, old, new):
                    break
    await store.moves.replace_member(index, old, new)


async def _renumber(flow: MoveFlow, new: str, number: str) -> None:
    if not number:
        return
    try:
        await flow.store.numbers.assign(new, number)
    except NumberTaken:  # taken meanwhile (an operator): the move goes on without it
        return


async def _revoke_codes(flow: MoveFlow, old: str, snapshot: Snapshot, now: datetime) -> None:
    """The old JID's codes: its referral code, and the invitation codes it handed out."""
    store = flow.store
    if snapshot.referral_code:
        await store.referrals.revoke(snapshot.referral_code, now)
    for code in await store.groups.codes_of(old, now):
        if code.status == "open":
            await store.groups.revoke_code(old, code.code, now)


# --- repair ---------------------------------------------------------------------------------


async def repair_move(flow: MoveFlow, jid: str, now: datetime, *, dry_run: bool) -> list[str]:
    """What the repair finishes of a move: the old account's sealed move, or the move held
    at this (new) JID; a JID held for a move that will not come is released."""
    store = flow.store
    record = await store.moves.record(jid)
    if record is not None and record.state in (MoveState.CLAIMED, MoveState.SEALED):
        if not dry_run:
            try:
                await carry_out(flow, jid, record, now)
            except (MoveRefused, NotReceivable):
                return ["refused_account_move"]  # released: nothing moved
        return ["finish_account_move"]
    account = await store.accounts.get(jid)
    if account is None or account.status is not AccountStatus.MOVING:
        return []
    old, move_id = await store.moves.held_for(jid)
    found = await store.moves.record(old) if old else None
    if found is not None and found.id == move_id and found.state is not MoveState.OFFERED:
        return []  # the old account's record leads it (the repair of that JID finishes it)
    if not dry_run:
        await store.moves.release(jid, move_id, now)
    return ["release_held_jid"]

"""``refer``, ``register CODE`` with a referral code, and the referrer's reward.

A paid account's code (``refer``) is one per account, kept until the account moves.
A stranger who registers with it gets a trial of ``[referral] trial_days`` and is
counted for its referrer. Its first payment (``receive_payment``) schedules the
decision ``settle_days`` later (``payment-referral_due``); the ``reward-referrals``
chore then rewards the referrer once (``lua/referral_decide.lua``: the voucher credit
and the newcomer's state in one step) or withholds the reward (money taken back).

Across accounts each step is on one account and idempotent: the newcomer's
registration names its referrer (``referred_by``), then the referrer counts it; the
repair chore counts a newcomer a crash left uncounted. A referrer that moved is
followed to the JID that holds its account now (``moved_to``). A newcomer that moved
stays counted as the JID it registered with: its new JID names it (``referred_as``),
and its reward is decided on its ledgers, that JID's and those it moved to since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from payments import keys
from payments.accounts.records import AccountKind
from payments.accounts.store import Registered
from payments.billing.cycle import Cycle
from payments.billing.payment import after_credit
from payments.codes import REFER_CODES, CodeRefused
from payments.config import BillingConfig, ReferralConfig
from payments.errors import NotAllowed
from payments.ledger.records import LedgerEntry
from payments.money import Money
from payments.referrals import texts
from payments.referrals.rules import NewcomerState, Stats, Verdict, decide, first_payment
from payments.referrals.store import Decided
from payments.stores import Store

MAX_HOPS: Final = 16  # moves followed from a referrer to the JID that holds its account now


class NotAReferrer(NotAllowed):
    def __init__(self) -> None:
        super().__init__("Only a paid account has a referral code: top up to activate yours.")


@dataclass(frozen=True, slots=True)
class Referring:
    """What ``refer`` tells its holder."""

    code: str
    stats: Stats
    reward: Money  # what one newcomer brings it now (a month of its plan)


async def my_code(store: Store, policy: BillingConfig, jid: str, now: datetime) -> Referring:
    """``jid``'s referral code (drawn the first time), its counters and its reward."""
    account = await store.accounts.get(jid)
    if account is None or account.closed or account.kind is not AccountKind.PAID:
        raise NotAReferrer
    stats = await store.referrals.stats(jid)
    code = stats.code or await _new_code(store, jid, now)
    return Referring(code, await store.referrals.stats(jid), await reward_of(store, policy, jid))


async def _new_code(store: Store, jid: str, now: datetime) -> str:
    while True:
        drawn = REFER_CODES.new()
        if await store.referrals.create_code(drawn, jid, now):
            break
    named = await store.referrals.name_code(jid, drawn)
    if named != drawn:  # another `refer` of the same account named its own first
        await store.referrals.revoke(drawn, now)
    return named


async def reward_of(store: Store, policy: BillingConfig, referrer: str) -> Money:
    """One month of the referrer's plan: its snapshot's price, or (it pays for no plan
    now: a trial, a closed account) the default plan's in its currency."""
    snapshot = await store.billing.current_snapshot(referrer)
    if snapshot is not None and snapshot.kind == AccountKind.PAID and snapshot.price.units:
        return snapshot.price
    currency = await store.currencies.of(referrer)
    plan = await store.plans.get_in(policy.default_plan, currency)
    return plan.price if plan is not None else Money.zero(currency)


# --- a newcomer -----------------------------------------------------------------------


async def register_referred(
    cycle: Cycle, jid: str, text: str, now: datetime, *, attempts: int, referral: ReferralConfig
) -> str:
    """A stranger registers with a referral code: a trial of ``referral.trial_days``,
    counted for the code's referrer (returned). CodeRefused for any code that cannot be
    used (the same words for all), NotAllowed for a JID that has an account already."""
    store = cycle.store
    if await store.code_attempts.failures(jid) >= attempts:
        raise CodeRefused
    code = REFER_CODES.normalise(text)
    found = await store.referrals.code(code) if code is not None else None
    if found is None or not found.open or found.referrer == jid:
        await store.code_attempts.record_failure(jid)
        raise CodeRefused
    if await store.accounts.get(jid) is not None:
        raise NotAllowed("You have an account already: a referral code is for newcomers.")
    named = {"referred_by": found.referrer, "referral_code": found.code}
    days = referral.trial_days
    if await store.accounts.register_trial(jid, now, days, extra=named) is not Registered.CREATED:
        raise NotAllowed("You have an account already: a referral code is for newcomers.")
    await store.referrals.signed_up(found.referrer, jid, now)
    return found.referrer


async def payment_arrived(store: Store, jid: str, at: datetime) -> None:
    """A payment reached ``jid``: if it was referred, its reward is looked at from now (the
    chore then waits until the first payment has settled: an entry may be early, never
    late)."""
    newcomer = await store.referrals.counted_as(jid)
    if newcomer:
        await store.schedules.add_early(keys.REFERRALS_DUE, newcomer, at)


async def holder_of(store: Store, jid: str) -> str:
    """The JID that holds ``jid``'s account now: ``jid``, or where its moves led ('' for '')."""
    for _ in range(MAX_HOPS if jid else 0):
        account = await store.accounts.get(jid)
        if account is None or not account.moved_to:
            return jid
        jid = account.moved_to
    return jid


async def newcomer_entries(store: Store, newcomer: str) -> list[LedgerEntry]:
    """A newcomer's ledger, with those of the JIDs its account moved to since (by time),
    archived months included."""
    found, jid = [], newcomer
    for _ in range(MAX_HOPS):
        found += await store.ledger.all_entries(jid)
        account = await store.accounts.get(jid)
        if account is None or not account.moved_to:
            break
        jid = account.moved_to
    return sorted(found, key=lambda entry: entry.at)


# --- the decision (the reward-referrals chore) ----------------------------------------------


async def decide_reward(cycle: Cycle, newcomer: str, now: datetime, settle_days: int) -> str:
    """Reward the referrer of ``newcomer``, or withhold it, or look again later; what was done."""
    store = cycle.store
    referrer = await holder_of(store, await store.referrals.referred_by(newcomer))
    state = await store.referrals.state(referrer, newcomer) if referrer else None
    if state is not NewcomerState.SIGNED_UP:
        await store.schedules.remove(keys.REFERRALS_DUE, newcomer)
        return "decided" if state is not None else "not_referred"
    decision = decide(await newcomer_entries(store, newcomer), now, settle_days)
    if decision.verdict is Verdict.NOT_YET:
        assert decision.when is not None
        await store.schedules.add(keys.REFERRALS_DUE, newcomer, decision.when)
        return "not_yet"
    if decision.verdict is Verdict.NO_PAYMENT:
        return await _no_payment(cycle, newcomer)
    if decision.verdict is Verdict.WITHHOLD:
        await store.referrals.withhold(referrer, newcomer, decision.why, at=now, actor=cycle.actor)
    else:
        await _reward(cycle, referrer, newcomer, now)
    await store.schedules.remove(keys.REFERRALS_DUE, newcomer)
    return decision.verdict.value


async def _no_payment(cycle: Cycle, newcomer: str) -> str:
    """Dropped, then looked at again: a payment that landed meanwhile keeps its entry."""
    store = cycle.store
    await store.schedules.remove(keys.REFERRALS_DUE, newcomer)
    first = first_payment(await newcomer_entries(store, newcomer))
    if first is not None:
        await store.schedules.add_early(keys.REFERRALS_DUE, newcomer, first.at)
    return Verdict.NO_PAYMENT.value


async def _reward(cycle: Cycle, referrer: str, newcomer: str, now: datetime) -> None:
    store = cycle.store
    amount = await reward_of(store, cycle.policy, referrer)
    if not amount.units:  # no plan priced in its currency: nothing to give
        return
    decided, voucher = await store.referrals.reward(
        referrer, newcomer, amount, at=now, actor=cycle.actor
    )
    if decided is Decided.REWARDED:
        await after_credit(cycle, referrer, now)  # voucher money pays open invoices too
    if decided in (Decided.REWARDED, Decided.BEFORE):
        await store.outbox.notify(texts.rewarded(referrer, newcomer, amount, voucher))


async def repair_referral(
    store: Store, jid: str, referred_by: str, now: datetime, *, dry_run: bool
) -> list[str]:
    """What the repair finishes for an account ``referred_by`` someone: its referrer counts
    it, and a reward still to decide after a payment is on the schedule; what it did (or
    would)."""
    referrer = await holder_of(store, referred_by)
    state = await store.referrals.state(referrer, jid)
    done = []
    if state is None and await _code_still_of(store, jid, referrer):
        done.append("count_referral")
        if not dry_run:
            await store.referrals.signed_up(referrer, jid, now)
    pending = state in (None, NewcomerState.SIGNED_UP)
    first = first_payment(await newcomer_entries(store, jid)) if pending else None
    scheduled = await store.schedules.at(keys.REFERRALS_DUE, jid)
    if first is not None and (scheduled is None or scheduled > first.at):
        done.append("schedule_referral")
        if not dry_run:
            await store.schedules.add_early(keys.REFERRALS_DUE, jid, first.at)
    return done


async def _code_still_of(store: Store, newcomer: str, referrer: str) -> bool:
    """The code the newcomer used is still its referrer's (not revoked by a move since: its
    records went to the new JID, which may count the newcomer already)."""
    found = await store.referrals.code(await store.referrals.referred_with(newcomer))
    return found is not None and found.open and found.referrer == referrer

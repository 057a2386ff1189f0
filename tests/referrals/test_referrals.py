"""Referral rewards: a paid account's code, a newcomer's longer trial, and the referrer's
reward once the newcomer's first payment has settled: once, whatever the replays; withheld
when the payment was taken back. The bodies run on fakeredis and on the real redis-server."""

from __future__ import annotations

import pytest

from payments import keys
from payments.billing.payment import credit_account
from payments.chores.referrals import reward_referrals
from payments.chores.repair import repair
from payments.chores.runner import Chore, ChoreRun, run_chore
from payments.codes import REFER_CODES, CodeRefused
from payments.config import ReferralConfig
from payments.errors import NotAllowed
from payments.ledger.records import Balance, EntryKind
from payments.moves.flow import MoveFlow, operator_move
from payments.referrals.flow import NotAReferrer, my_code, register_referred
from payments.referrals.rules import NewcomerState
from payments.stores import Store
from payments.topup.flow import receive_payment
from payments.topup.providers.base import PaymentEvent
from tests.support.billing import POLICY, T0, basic_plan, cycle_of, days, kinds, paid_account, usd

REFERRER, NEWCOMER, OTHER = "rita@example.org", "newt@example.org", "otto@example.org"
REFERRAL = ReferralConfig(trial_days=60, settle_days=14)


async def referred(store: Store) -> str:
    """Rita (paid, basic at $10) hands her code to Newt, who registers with it."""
    await basic_plan(store, "10")
    await paid_account(store, REFERRER, T0, "30")
    mine = await my_code(store, POLICY, REFERRER, T0)
    shown = REFER_CODES.display(mine.code)
    await register_referred(
        cycle_of(store), NEWCOMER, shown, T0 + days(1), attempts=10, referral=REFERRAL
    )
    return mine.code


async def newt_pays(store: Store, ref: str = "stripe:cs_newt", at_day: float = 2) -> None:
    event = PaymentEvent(ref, ref.split(":")[1], NEWCOMER, usd("25"))
    await receive_payment(store, event, "stripe", POLICY, now=T0 + days(at_day))


async def chore(store: Store, day: float) -> dict[str, int]:
    run = ChoreRun(cycle_of(store), T0 + days(day), referral=REFERRAL)
    report = await run_chore(run, "reward-referrals", Chore(reward_referrals))
    return dict(report.counts)


async def test_a_paid_account_has_one_code_and_a_newcomer_gets_a_longer_trial(
    store: Store,
) -> None:
    await store.accounts.register_trial(OTHER, T0, 30)
    with pytest.raises(NotAReferrer):
        await my_code(store, POLICY, OTHER, T0)
    code = await referred(store)
    again = await my_code(store, POLICY, REFERRER, T0 + days(3))
    assert again.code == code and again.reward == usd("10")
    assert (again.stats.signups, again.stats.rewards) == (1, 0)
    newt = await store.accounts.get(NEWCOMER)
    assert newt is not None and newt.trial_ends_at == T0 + days(61)
    assert await store.referrals.referred_by(NEWCOMER) == REFERRER
    with pytest.raises(NotAllowed, match="account already"):
        await register_referred(cycle_of(store), OTHER, code, T0, attempts=10, referral=REFERRAL)
    for bad in ("nonsense", REFER_CODES.new()):
        with pytest.raises(CodeRefused):
            await register_referred(cycle_of(store), "x@example.org", bad, T0, attempts=10,
                                    referral=REFERRAL)  # fmt: skip
    assert await store.code_attempts.failures("x@example.org") == 2


async def test_the_reward_comes_once_the_first_payment_settled_and_once_only(
    store: Store,
) -> None:
    await referred(store)
    before = (await store.ledger.balances(REFERRER)).voucher
    await newt_pays(store)
    assert await store.schedules.at(keys.REFERRALS_DUE, NEWCOMER) == T0 + days(2)
    assert await chore(store, 5) == {"not_yet": 1}  # paid 3 days ago: not settled yet
    assert await store.schedules.at(keys.REFERRALS_DUE, NEWCOMER) == T0 + days(16)
    await newt_pays(store)  # the provider replays its webhook
    await newt_pays(store, "stripe:cs_newt2", 10)  # a second payment
    assert await chore(store, 16) == {"reward": 1}
    assert (await store.ledger.balances(REFERRER)).voucher == before + usd("10")
    [entry] = [e for e in await store.ledger.entries(REFERRER) if e.kind is EntryKind.REFERRAL]
    assert entry.ref == f"referral:{NEWCOMER}" and entry.balance is Balance.VOUCHER
    assert "referral_reward" in await kinds(store, REFERRER)
    for day in (17, 40):  # replays: the chore again, the payment again
        await newt_pays(store)
        await chore(store, day)
    assert (await store.ledger.balances(REFERRER)).voucher == before + usd("10")
    stats = await store.referrals.stats(REFERRER)
    assert (stats.signups, stats.rewards) == (1, 1)
    assert await store.ledger.check(REFERRER) == []


async def test_a_refunded_first_payment_earns_nothing(store: Store) -> None:
    await referred(store)
    await newt_pays(store)
    await store.ledger.debit(
        NEWCOMER, usd("5"), reason="refunded at the provider", kind=EntryKind.REFUND,
        ref="refund:stripe:cs_newt",
    )  # fmt: skip
    assert await chore(store, 20) == {"withhold": 1}
    assert await store.referrals.state(REFERRER, NEWCOMER) is NewcomerState.WITHHELD
    assert not [e for e in await store.ledger.entries(REFERRER) if e.kind is EntryKind.REFERRAL]
    await newt_pays(store, "stripe:cs_newt3", 21)  # paying again later changes nothing
    assert await chore(store, 40) == {"decided": 1}
    assert (await store.referrals.stats(REFERRER)).rewards == 0


async def test_a_voucher_or_an_operators_credit_is_no_payment(store: Store) -> None:
    await referred(store)
    await credit_account(
        store, NEWCOMER, usd("25"), reason="gift", kind=EntryKind.CREDIT, at=T0 + days(2),
        policy=POLICY,
    )  # fmt: skip
    await store.schedules.add_early(keys.REFERRALS_DUE, NEWCOMER, T0 + days(2))
    assert await chore(store, 30) == {"no_payment": 1}
    assert await store.schedules.at(keys.REFERRALS_DUE, NEWCOMER) is None


async def test_the_repair_counts_a_signup_a_crash_left_uncounted(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, REFERRER, T0, "30")
    code = (await my_code(store, POLICY, REFERRER, T0)).code
    named = {"referred_by": REFERRER, "referral_code": code}
    await store.accounts.register_trial(NEWCOMER, T0, 60, extra=named)  # then the crash
    await newt_pays(store)
    await store.schedules.remove(keys.REFERRALS_DUE, NEWCOMER)
    report = await run_chore(ChoreRun(cycle_of(store), T0 + days(3)), "repair", Chore(repair))
    assert report.counts["count_referral"] == 1 and report.counts["schedule_referral"] == 1
    assert await store.referrals.state(REFERRER, NEWCOMER) is NewcomerState.SIGNED_UP
    assert await chore(store, 17) == {"reward": 1}


async def test_a_newcomer_that_moved_is_rewarded_for_once_and_a_refund_after_counts(
    store: Store,
) -> None:
    """Newt moves before paying: Newt's new JID stays counted as Newt (no second signup),
    its payment there brings the reward once; a refund there withholds it."""
    await referred(store)
    moved_to = "newt2@example.org"
    await operator_move(MoveFlow(store, POLICY, "admin"), NEWCOMER, moved_to, T0 + days(2))
    assert await store.referrals.counted_as(moved_to) == NEWCOMER
    assert await store.referrals.referred_by(moved_to) == ""
    event = PaymentEvent("stripe:cs_n2", "cs_n2", moved_to, usd("25"))
    await receive_payment(store, event, "stripe", POLICY, now=T0 + days(3))
    assert await store.schedules.at(keys.REFERRALS_DUE, NEWCOMER) == T0 + days(3)
    run = ChoreRun(cycle_of(store), T0 + days(4), referral=REFERRAL)
    assert "count_referral" not in (await run_chore(run, "repair", Chore(repair))).counts
    assert (await chore(store, 18))["reward"] == 1
    assert (await chore(store, 19)).get("reward", 0) == 0
    stats = (await my_code(store, POLICY, REFERRER, T0 + days(20))).stats
    assert (stats.signups, stats.rewards) == (1, 1)


async def test_a_refund_at_the_new_jid_of_a_newcomer_withholds_the_reward(store: Store) -> None:
    await referred(store)
    await newt_pays(store)
    moved_to = "newt2@example.org"
    await operator_move(MoveFlow(store, POLICY, "admin"), NEWCOMER, moved_to, T0 + days(3))
    await store.ledger.debit(
        moved_to, usd("5"), reason="refund", kind=EntryKind.REFUND, ref="refund:cs_newt:1",
        at=T0 + days(4),
    )  # fmt: skip
    assert (await chore(store, 18)).get("withhold") == 1
    assert (await my_code(store, POLICY, REFERRER, T0 + days(20))).stats.rewards == 0

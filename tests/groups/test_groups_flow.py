"""Joining and leaving groups end to end in the store: prices, refusals, renewal, codes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from payments import keys
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.freezes import Froze, end_trial
from payments.billing.renewal import Renewed, renew_account
from payments.codes import GROUP_CODES, REFUSAL, CodeRefused
from payments.errors import InsufficientFunds
from payments.groups import flow as group_flows
from payments.groups.rules import (
    CodeUse,
    GroupBusy,
    JoinRefusal,
    JoinUnpaid,
    LeafRefused,
    MainRefused,
    NotAMember,
)
from payments.ledger.records import EntryKind
from payments.stores import Store
from tests.support.billing import (
    POLICY,
    RENEWAL_DUE,
    T0,
    cycle_of,
    days,
    kinds,
    outbox,
    paid_account,
    usd,
)
from tests.support.groups import (
    JOINED_AT,
    LEAF,
    MAIN,
    OTHER_MAIN,
    PRORATED,
    assert_joined_once,
    flow_of,
    main_and_trial,
)


async def test_a_join_charges_the_main_the_pro_rated_price_and_says_why(store: Store) -> None:
    await main_and_trial(store)
    joined = await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT)
    assert joined.price is not None and joined.price.amount == PRORATED
    await assert_joined_once(store, MAIN, LEAF, PRORATED)
    assert (await store.ledger.balances(MAIN)).prepaid == usd("30") - PRORATED
    [entry] = [e for e in await store.ledger.entries(MAIN) if e.ref.startswith("join:")]
    assert entry.kind is EntryKind.CHARGE and entry.ref == f"join:202601:{LEAF}:prepaid"
    assert entry.reason == f"basic for {LEAF}, joined (pro-rated to 2026-02-05)"
    assert await store.redis.exists(keys.balance_prepaid(LEAF)) == 0
    told = (await outbox(store, MAIN))[-1]
    assert told.kind == "leaf_joined" and "$5.16 " in told.body and LEAF in told.body
    again = await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT)
    assert again.already
    await assert_joined_once(store, MAIN, LEAF, PRORATED)


async def test_the_renewal_then_charges_the_leaf_a_full_month_at_its_snapshot(store: Store) -> None:
    await main_and_trial(store)
    await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT)
    await store.plans.put("basic", at=JOINED_AT, price=usd("12"))  # later buyers pay more
    outcome = await renew_account(cycle_of(store), MAIN, RENEWAL_DUE)
    assert outcome.result is Renewed.RENEWED
    assert [(line.member, line.amount) for line, _ in outcome.lines] == [
        (MAIN, usd("10")),
        (LEAF, usd("10")),
    ]


async def test_a_main_that_cannot_pay_is_told_the_amount_and_nothing_changes(store: Store) -> None:
    await main_and_trial(store, main_amount="20")  # $10 left
    await store.ledger.debit(MAIN, usd("8"), reason="spent")
    with pytest.raises(JoinUnpaid) as refused:
        await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT)
    assert refused.value.missing == PRORATED - usd("2")
    assert "$" not in str(refused.value)  # the leaf never learns the main's balance
    assert await store.groups.main_of(LEAF) == "" and await store.groups.move(LEAF) is None
    assert (await store.ledger.balances(MAIN)).prepaid == usd("2")
    [told] = [n for n in await outbox(store, MAIN) if n.kind == "join_unpaid"]
    assert "$3.16" in told.body and "topup" in told.body
    with pytest.raises(InsufficientFunds):
        await group_flows.check_main(flow_of(store), MAIN, JOINED_AT)


async def test_who_may_pay_for_whom(store: Store) -> None:
    await main_and_trial(store)
    flow = flow_of(store)
    await store.accounts.register_trial("trial2@x", T0, 30)
    with pytest.raises(MainRefused) as refused:
        await group_flows.join(flow, "trial2@x", LEAF, JOINED_AT)  # a trial pays for nobody
    assert refused.value.reason is JoinRefusal.MAIN_NOT_PAID
    await group_flows.join(flow, MAIN, LEAF, JOINED_AT)
    with pytest.raises(MainRefused):
        await group_flows.join(flow, LEAF, "trial2@x", JOINED_AT)  # a leaf pays for nobody
    await main_and_trial_other(store)
    for candidate in (LEAF, MAIN):  # a leaf of another main; a main with leaves
        with pytest.raises(LeafRefused):
            await group_flows.join(flow, OTHER_MAIN, candidate, JOINED_AT)
    with pytest.raises(LeafRefused):
        await group_flows.join(flow, MAIN, "nobody@x", JOINED_AT)  # not a user (no code)


async def main_and_trial_other(store: Store) -> None:
    await paid_account(store, OTHER_MAIN, T0, "40")


async def test_a_main_pays_for_at_most_max_leaves(store: Store) -> None:
    await main_and_trial(store, main_amount="200")
    flow = flow_of(store)
    for i in range(POLICY.max_leaves):
        await store.accounts.register_trial(f"l{i}@x", T0, 30)
        await group_flows.join(flow, MAIN, f"l{i}@x", JOINED_AT)
    with pytest.raises(MainRefused) as refused:
        await group_flows.join(flow, MAIN, LEAF, JOINED_AT)
    assert refused.value.reason is JoinRefusal.GROUP_FULL
    assert await store.groups.move(LEAF) is None


async def test_two_mains_racing_for_one_trial_end_with_one_group(store: Store) -> None:
    await main_and_trial(store)
    await main_and_trial_other(store)
    flow = flow_of(store)
    results = await asyncio.gather(
        group_flows.join(flow, MAIN, LEAF, JOINED_AT),
        group_flows.join(flow, OTHER_MAIN, LEAF, JOINED_AT),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, group_flows.Joined)]
    assert len(winners) == 1, results
    assert all(isinstance(r, LeafRefused | group_flows.Joined) for r in results), results
    winner = winners[0].main
    await assert_joined_once(store, winner, LEAF, PRORATED)
    loser = OTHER_MAIN if winner == MAIN else MAIN
    assert [e for e in await store.ledger.entries(loser) if e.ref.startswith("join:")] == []
    assert (await store.ledger.balances(loser)).prepaid == usd("30")


async def test_a_second_join_of_one_main_waits_its_turn(store: Store) -> None:
    await main_and_trial(store)
    assert await store.groups.lock(MAIN, "someone")
    with pytest.raises(GroupBusy):
        await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT)


# --- leaving --------------------------------------------------------------------------


async def test_a_leaf_that_leaves_stays_paid_to_the_renewal_then_billing_takes_over(
    store: Store,
) -> None:
    await main_and_trial(store)
    flow = flow_of(store)
    await group_flows.join(flow, MAIN, LEAF, JOINED_AT)
    left = await group_flows.leave(flow, LEAF, JOINED_AT + days(2))
    assert left.paid_until == RENEWAL_DUE
    account = await store.accounts.get(LEAF)
    assert account is not None and account.kind is AccountKind.TRIAL and not account.frozen
    assert account.trial_ends_at == RENEWAL_DUE
    assert await store.schedules.at(keys.TRIAL_ENDS, LEAF) == RENEWAL_DUE
    assert (await kinds(store, LEAF))[-1] == "leaf_left" and (await kinds(store, MAIN))[-1] == (
        "leaf_left"
    )
    outcome = await renew_account(cycle_of(store), MAIN, RENEWAL_DUE)
    assert [line.member for line, _ in outcome.lines] == [MAIN]  # no longer charged for it
    cycle = cycle_of(store)
    assert await end_trial(cycle, LEAF, RENEWAL_DUE - days(1)) is Froze.NOT_DUE
    assert await end_trial(cycle, LEAF, RENEWAL_DUE) is Froze.FROZEN
    with pytest.raises(NotAMember):
        await group_flows.leave(flow, LEAF, RENEWAL_DUE)


async def test_coming_back_in_the_same_period_costs_nothing_more(store: Store) -> None:
    await main_and_trial(store)
    flow = flow_of(store)
    await group_flows.join(flow, MAIN, LEAF, JOINED_AT)
    await group_flows.remove(flow, MAIN, LEAF, JOINED_AT + days(1))
    again = await group_flows.join(flow, MAIN, LEAF, JOINED_AT + days(2))
    assert again.price is not None and again.price.amount == usd("0")
    await assert_joined_once(store, MAIN, LEAF, PRORATED)
    assert (await kinds(store, MAIN)).count("leaf_joined") == 2  # told each time


async def test_only_the_main_removes_its_leaf_and_both_are_told(store: Store) -> None:
    await main_and_trial(store)
    await main_and_trial_other(store)
    flow = flow_of(store)
    await group_flows.join(flow, MAIN, LEAF, JOINED_AT)
    with pytest.raises(NotAMember):
        await group_flows.remove(flow, OTHER_MAIN, LEAF, JOINED_AT)
    await group_flows.remove(flow, MAIN, LEAF, JOINED_AT + days(1))
    [to_main] = [n for n in await outbox(store, MAIN) if n.kind == "leaf_left"]
    [to_leaf] = [n for n in await outbox(store, LEAF) if n.kind == "leaf_left"]
    assert to_main.body.startswith(f"You no longer pay for {LEAF}")
    assert to_leaf.body.startswith(f"{MAIN} no longer pays for your account")
    assert "2026-02-05" in to_leaf.body and "$20.00" in to_leaf.body


async def test_a_trial_that_had_ended_is_unfrozen_when_a_main_pays_for_it(store: Store) -> None:
    await main_and_trial(store)
    cycle = cycle_of(store)
    assert await end_trial(cycle, LEAF, T0 + days(31)) is Froze.FROZEN
    await group_flows.join(flow_of(store), MAIN, LEAF, T0 + days(31) - days(0.5))
    account = await store.accounts.get(LEAF)
    assert account is not None and FreezeKind.BILLING not in account.freezes
    assert await store.schedules.at(keys.BILLING_FROZEN, LEAF) is None


# --- codes -----------------------------------------------------------------------------


async def accept(store: Store, jid: str, text: str, use: CodeUse = CodeUse.ACCEPT) -> object:
    return await group_flows.use_code(
        flow_of(store), jid, text, use, JOINED_AT, attempts_per_hour=10
    )


async def test_add_sends_an_invitation_only_to_a_trial_that_may_join(store: Store) -> None:
    await main_and_trial(store)
    await main_and_trial_other(store)
    flow = flow_of(store)
    for jid in ("nobody@x", OTHER_MAIN, MAIN):
        assert not await group_flows.invite_jid(flow, MAIN, jid, JOINED_AT)
    assert await outbox(store, "nobody@x") == [] and await kinds(store, OTHER_MAIN) == [
        "plan_activated"
    ]
    assert await group_flows.invite_jid(flow, MAIN, LEAF, JOINED_AT)
    [invitation] = await outbox(store, LEAF)
    assert invitation.kind == "invitation" and MAIN in invitation.body
    code = invitation.body.split("'accept ")[1].split("'")[0]
    assert await store.groups.main_of(LEAF) == ""  # nothing until accepted
    joined = await accept(store, LEAF, code)
    assert isinstance(joined, group_flows.Joined) and joined.main == MAIN
    await assert_joined_once(store, MAIN, LEAF, PRORATED)
    with pytest.raises(CodeRefused):
        await accept(store, LEAF, code)  # used


async def test_a_declined_invitation_tells_the_main_nothing(store: Store) -> None:
    await main_and_trial(store)
    flow = flow_of(store)
    await group_flows.invite_jid(flow, MAIN, LEAF, JOINED_AT)
    code = (await outbox(store, LEAF))[0].body.split("'decline ")[1].split("'")[0]
    before = await kinds(store, MAIN)
    await group_flows.decline(flow, LEAF, code, JOINED_AT, 10)
    assert await kinds(store, MAIN) == before
    with pytest.raises(CodeRefused):
        await accept(store, LEAF, code)


async def test_a_referral_code_works_once_and_every_refusal_reads_the_same(store: Store) -> None:
    await main_and_trial(store)
    flow = flow_of(store)
    code = await group_flows.create_referral(flow, MAIN, JOINED_AT)
    shown = GROUP_CODES.display(code.code)
    joined = await accept(store, "new@x", shown.lower(), CodeUse.REGISTER)
    assert isinstance(joined, group_flows.Joined)
    account = await store.accounts.get("new@x")
    assert account is not None and account.kind is AccountKind.LEAF
    expired = await group_flows.create_referral(flow, MAIN, JOINED_AT - days(8))
    revoked = await group_flows.create_referral(flow, MAIN, JOINED_AT)
    assert await store.groups.revoke_code(MAIN, revoked.code, JOINED_AT)
    messages = set()
    for jid, text in (
        ("second@x", shown),  # a second use
        ("new@x", shown),  # the same JID again
        ("third@x", expired.code),
        ("fourth@x", revoked.code),
        ("fifth@x", "not a code"),
    ):
        with pytest.raises(CodeRefused) as refused:
            await accept(store, jid, text, CodeUse.REGISTER)
        messages.add(str(refused.value))
    assert messages == {REFUSAL}
    assert await store.accounts.get("second@x") is None


async def test_fifty_wrong_codes_in_a_minute_are_rate_limited(store: Store) -> None:
    await main_and_trial(store)
    code = await group_flows.create_referral(flow_of(store), MAIN, JOINED_AT)
    for i in range(50):
        with pytest.raises(CodeRefused):
            await accept(store, "guesser@x", f"{i:024d}", CodeUse.REGISTER)
    assert await store.code_attempts.failures("guesser@x") == 10  # then refused unread
    with pytest.raises(CodeRefused):  # even the right code, once over the limit
        await accept(store, "guesser@x", code.code, CodeUse.REGISTER)
    assert await store.accounts.get("guesser@x") is None
    assert await store.redis.ttl(keys.code_failures("guesser@x")) > 0


async def test_a_refused_join_gives_the_code_back(store: Store) -> None:
    await main_and_trial(store, main_amount="20")
    code = await group_flows.create_referral(flow_of(store), MAIN, JOINED_AT - days(1))
    await store.ledger.debit(MAIN, usd("10"), reason="spent")
    with pytest.raises(JoinUnpaid):
        await accept(store, "new@x", code.code, CodeUse.REGISTER)
    assert await store.accounts.get("new@x") is None
    await store.ledger.credit(MAIN, usd("10"), reason="top-up")
    assert isinstance(await accept(store, "new@x", code.code, CodeUse.REGISTER), group_flows.Joined)
    assert timedelta(0) < code.expires_at - JOINED_AT

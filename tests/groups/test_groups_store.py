"""Group steps in Redis: each atomic on one slot, safe to repeat (fakeredis and real Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payments import keys
from payments.accounts.freeze_store import FreezeIf
from payments.accounts.numbers import NumberTaken
from payments.accounts.records import FreezeKind, FreezeRecord
from payments.errors import UnknownAccount
from payments.groups.rules import CodeClaim, CodeKind, CodeUse, GroupCode, Move, MoveOp
from payments.groups.store import JoinCharged, LeafJoined, MoveStatus
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.stores import Store
from tests.support.billing import T0, usd
from tests.support.groups import LEAF, MAIN, PRORATED, main_and_trial

RENEWAL = T0 + timedelta(days=31)


def join_move(index: str) -> Move:
    return Move(
        MoveOp.JOIN,
        MAIN,
        index,
        T0,
        ref=f"join:202601:{LEAF}",
        amount=PRORATED,
        plan="basic",
        version=1,
        price=usd("10"),
        paid_until=RENEWAL,
    )


async def test_a_move_is_recorded_once_and_blocks_any_other(store: Store) -> None:
    await main_and_trial(store)
    index = await store.groups.create(MAIN)
    move = join_move(index)
    assert await store.groups.record_move(LEAF, move) is MoveStatus.RECORDED
    assert await store.groups.record_move(LEAF, move) is MoveStatus.IN_FLIGHT
    assert await store.groups.move(LEAF) == move
    other = Move(MoveOp.JOIN, "other@x", "99", T0, ref="join:202601:x")
    assert await store.groups.record_move(LEAF, other) is MoveStatus.OTHER
    assert await store.groups.drop_move(LEAF, other) is False
    assert await store.groups.drop_move(LEAF, move) is True
    assert await store.groups.move(LEAF) is None


async def test_only_an_empty_handed_trial_or_a_new_jid_may_record_a_join(store: Store) -> None:
    await main_and_trial(store)
    index = await store.groups.create(MAIN)
    # the main itself (paid), a stranger without a referral, a trial holding money
    assert await store.groups.record_move(MAIN, join_move(index)) is MoveStatus.REFUSED
    assert await store.groups.record_move("new@x", join_move(index)) is MoveStatus.REFUSED
    assert (
        await store.groups.record_move("new@x", join_move(index), new_allowed=True)
        is MoveStatus.RECORDED
    )
    await store.ledger.credit(LEAF, usd("1"), reason="top-up")
    assert await store.groups.record_move(LEAF, join_move(index)) is MoveStatus.REFUSED


async def charge(store: Store, amount: Money) -> JoinCharged:
    ref, reason = "join:202601:b@x", "basic for b@x"
    return await store.groups.charge_join(
        MAIN, "b@x", amount, ref=ref, reason=reason, at=T0, actor="t"
    )


async def refund(store: Store) -> Money:
    ref = "join:202601:b@x"
    return await store.groups.refund_join(MAIN, "b@x", ref=ref, reason="back", at=T0, actor="t")


async def test_the_join_charge_is_all_or_nothing_once_per_ref_voucher_first(store: Store) -> None:
    await main_and_trial(store, main_amount="20")  # $10 left after the first month
    await store.ledger.credit(MAIN, usd("2"), reason="gift", balance=Balance.VOUCHER)
    refused = await charge(store, usd("12.01"))
    assert refused.refused and refused.missing == usd("0.01")
    assert (await store.ledger.balances(MAIN)).total == usd("12")
    charged = await charge(store, usd("5"))
    assert charged.status == 1 and charged.voucher == usd("2") and charged.prepaid == usd("3")
    again = await charge(store, usd("5"))
    assert again.status == 0 and again.balance == usd("7")
    assert await store.groups.unfinished_joins(MAIN) == ["b@x"]
    entries = [e for e in await store.ledger.entries(MAIN) if e.ref.startswith("join:")]
    assert [(e.balance, e.amount, e.kind) for e in entries] == [
        (Balance.VOUCHER, -usd("2"), EntryKind.CHARGE),
        (Balance.PREPAID, -usd("3"), EntryKind.CHARGE),
    ]
    assert all(e.reason == "basic for b@x" for e in entries)
    assert await store.ledger.check(MAIN) == []


async def test_a_refund_gives_each_part_back_once_and_forgets_the_charge(store: Store) -> None:
    await main_and_trial(store, main_amount="20")
    await store.ledger.credit(MAIN, usd("2"), reason="gift", balance=Balance.VOUCHER)
    await charge(store, usd("5"))
    assert await refund(store) == usd("5")
    assert await refund(store) == Money(0)
    balances = await store.ledger.balances(MAIN)
    assert (balances.voucher, balances.prepaid) == (usd("2"), usd("10"))
    assert await store.groups.unfinished_joins(MAIN) == []
    assert await store.ledger.check(MAIN) == []
    # forgotten: the same join later charges again
    assert (await charge(store, usd("5"))).status == 1


async def test_the_leaf_side_of_a_join_then_the_list_each_once(store: Store) -> None:
    await main_and_trial(store)
    index = await store.groups.create(MAIN)
    args = (index, MAIN, LEAF, "basic", 1, usd("10"), T0)
    assert await store.groups.join_leaf(*args) is LeafJoined.JOINED
    assert await store.groups.join_leaf(*args) is LeafJoined.ALREADY
    assert await store.groups.join_leaf("99", "x@x", LEAF, "basic", 1, usd("1"), T0) is (
        LeafJoined.OTHER_GROUP
    )
    assert await store.groups.add_member(index, MAIN, LEAF) == 1
    assert await store.groups.add_member(index, MAIN, LEAF) == 0
    assert await store.groups.add_member(index, "x@x", LEAF) == -1
    assert await store.redis.lrange(keys.leaf_jids(index), 0, -1) == [MAIN, LEAF]
    snapshot = await store.billing.current_snapshot(LEAF)
    assert snapshot is not None and snapshot.kind == "leaf" and snapshot.paid_by == MAIN
    assert await store.groups.main_of(LEAF) == MAIN and await store.groups.main_of(MAIN) == ""


async def test_a_leaf_holding_money_is_refused_and_empty_balance_keys_go(store: Store) -> None:
    await main_and_trial(store)
    index = await store.groups.create(MAIN)
    await store.ledger.credit(LEAF, usd("1"), reason="top-up")
    args = (index, MAIN, LEAF, "basic", 1, usd("10"), T0)
    assert await store.groups.join_leaf(*args) is LeafJoined.HOLDS_MONEY
    await store.ledger.debit(LEAF, usd("1"), reason="spent")
    assert await store.groups.join_leaf(*args) is LeafJoined.JOINED
    assert await store.redis.exists(keys.balance_prepaid(LEAF)) == 0  # never kept for a leaf
    assert await store.ledger.check(LEAF) == []


async def test_leaving_makes_a_trial_that_ends_when_the_paid_period_does(store: Store) -> None:
    await main_and_trial(store)
    index = await store.groups.create(MAIN)
    plan = await store.plans.get("basic")
    assert plan is not None
    await store.groups.join(index, MAIN, LEAF, plan, at=T0)
    leave = Move(MoveOp.LEAVE, MAIN, index, T0, paid_until=RENEWAL, by=LEAF)
    assert await store.groups.record_move(LEAF, leave) is MoveStatus.RECORDED
    await store.groups.remove_member(index, LEAF)
    assert await store.groups.leave_leaf(index, LEAF, RENEWAL, T0 + timedelta(days=1))
    assert not await store.groups.leave_leaf(index, LEAF, RENEWAL, T0 + timedelta(days=1))
    account = await store.accounts.get(LEAF)
    assert account is not None and account.kind.value == "trial"
    assert account.trial_ends_at == RENEWAL
    assert await store.groups.paid_until(LEAF) == RENEWAL
    assert await store.groups.move(LEAF) is None and await store.groups.index_of(LEAF) == ""
    group = await store.groups.of(MAIN)
    assert group is not None and group.leaves == ()


# --- codes -------------------------------------------------------------------------------


def code_of(kind: CodeKind, *, invitee: str = "", uses: int = 1) -> GroupCode:
    return GroupCode("A" * 23 + kind.value[0].upper(), kind, MAIN, T0, T0 + timedelta(days=7),
                     invitee=invitee, uses=uses)  # fmt: skip


async def test_a_referral_code_is_used_once_per_jid_within_its_uses(store: Store) -> None:
    code = code_of(CodeKind.REFERRAL, uses=2)
    assert await store.groups.create_code(code) and not await store.groups.create_code(code)
    use = CodeUse.REGISTER
    assert await store.groups.claim_code(code.code, "a@x", use, T0) == (CodeClaim.CLAIMED, MAIN)
    assert await store.groups.claim_code(code.code, "a@x", use, T0) == (CodeClaim.MINE, MAIN)
    assert (await store.groups.claim_code(code.code, "b@x", use, T0))[0] is CodeClaim.CLAIMED
    assert (await store.groups.claim_code(code.code, "c@x", use, T0))[0] is CodeClaim.USED_UP
    assert await store.groups.unclaim_code(code.code, "b@x")
    assert not await store.groups.unclaim_code(code.code, "b@x")
    late = T0 + timedelta(days=7)
    assert (await store.groups.claim_code(code.code, "c@x", use, late))[0] is CodeClaim.EXPIRED
    assert (await store.groups.claim_code("Z" * 24, "c@x", use, T0))[0] is CodeClaim.UNKNOWN
    # a referral code is not declined, and works for `accept` by a trial account too
    assert (await store.groups.claim_code(code.code, "c@x", CodeUse.DECLINE, T0))[0] is (
        CodeClaim.UNKNOWN
    )
    assert (await store.groups.claim_code(code.code, "c@x", CodeUse.ACCEPT, T0))[0] is (
        CodeClaim.CLAIMED
    )


async def test_an_add_invitation_is_for_its_invitee_only_and_can_be_declined(store: Store) -> None:
    code = code_of(CodeKind.ADD, invitee=LEAF)
    await store.groups.create_code(code)
    for jid, use in (("x@x", CodeUse.ACCEPT), (LEAF, CodeUse.REGISTER), ("x@x", CodeUse.DECLINE)):
        assert (await store.groups.claim_code(code.code, jid, use, T0))[0] is CodeClaim.UNKNOWN
    assert (await store.groups.claim_code(code.code, LEAF, CodeUse.DECLINE, T0))[0] is (
        CodeClaim.CLAIMED
    )
    assert (await store.groups.claim_code(code.code, LEAF, CodeUse.ACCEPT, T0))[0] is (
        CodeClaim.REVOKED
    )
    assert await store.groups.codes_of(MAIN, T0) == []  # invitations are not listed


async def test_a_main_lists_and_revokes_only_its_own_live_referral_codes(store: Store) -> None:
    code = code_of(CodeKind.REFERRAL)
    await store.groups.create_code(code)
    assert [c.code for c in await store.groups.codes_of(MAIN, T0)] == [code.code]
    assert not await store.groups.revoke_code("other@x", code.code, T0)
    assert await store.groups.revoke_code(MAIN, code.code, T0)
    assert not await store.groups.revoke_code(MAIN, code.code, T0)
    claim = await store.groups.claim_code(code.code, "a@x", CodeUse.REGISTER, T0)
    assert claim[0] is CodeClaim.REVOKED
    assert await store.groups.codes_of(MAIN, T0 + timedelta(days=8)) == []  # expired: dropped
    assert await store.redis.ttl(keys.group_code(code.code)) > 0  # and Redis forgets it later


# --- numbers ------------------------------------------------------------------------------


async def test_a_number_is_held_by_one_account_and_found_both_ways(store: Store) -> None:
    await main_and_trial(store)
    assert await store.numbers.assign(MAIN, "+15550100001") == ""
    assert await store.numbers.of(MAIN) == "+15550100001"
    assert await store.numbers.holder("+15550100001") == MAIN
    with pytest.raises(NumberTaken):
        await store.numbers.assign(LEAF, "+15550100001")
    assert await store.numbers.assign(MAIN, "+15550100002") == "+15550100001"
    assert await store.numbers.holder("+15550100001") == ""  # free again
    assert await store.redis.exists(keys.number_owner("+15550100001")) == 0
    assert await store.numbers.assign(LEAF, "+15550100001") == ""
    assert await store.numbers.release(MAIN) == "+15550100002"
    assert await store.numbers.release(MAIN) == ""
    assert await store.numbers.holder("+15550100002") == "" and await store.numbers.of(MAIN) == ""
    with pytest.raises(UnknownAccount):
        await store.numbers.assign("nobody@x", "+15550100003")
    assert await store.redis.exists(keys.number_owner("+15550100003")) == 0


async def test_a_number_left_behind_by_a_crash_or_a_closure_is_free(store: Store) -> None:
    await main_and_trial(store)
    # a crash after the reverse entry, before the account's field: stale
    await store.redis.set(keys.number_owner("+15550100009"), LEAF)
    assert await store.numbers.holder("+15550100009") == ""
    assert await store.numbers.assign(MAIN, "+15550100009") == ""
    # billing closes MAIN (frozen, owing): close.lua releases the number on its side only
    record = FreezeRecord(FreezeKind.BILLING, "t", T0, "unpaid")
    await store.freezes.freeze(MAIN, record, FreezeIf.ANY)
    await store.redis.zadd(keys.invoices_open(MAIN), {"202601": 1})
    assert await store.billing.close(MAIN, record, at=T0) == "+15550100009"
    assert await store.numbers.holder("+15550100009") == ""
    assert await store.numbers.assign(LEAF, "+15550100009") == ""
    assert await store.numbers.holder("+15550100009") == LEAF

"""Group rules without Redis: pro-rated join prices, who may join whom, codes, moves, numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments import keys
from payments.accounts.numbers import BadNumber, parse_e164
from payments.accounts.records import Account, AccountKind, AccountStatus, FreezeKind
from payments.codes import GROUP_CODES
from payments.errors import CorruptRecord, NotAllowed
from payments.groups.rules import (
    CodeKind,
    GroupCode,
    JoinRefusal,
    Move,
    MoveOp,
    check_uses,
    current_period_start,
    join_price,
    join_ref,
    leaf_refusal,
    main_refusal,
    paid_until_after_leaving,
)
from payments.money import Money
from tests.support import ROOT
from tests.support.billing import T0, usd

RENEWAL = datetime(2026, 2, 5, 9, 0, tzinfo=UTC)  # a main activated on T0 (2026-01-05 09:00)


PAID = Account("a@x", AccountKind.PAID, AccountStatus.ACTIVE, T0, "basic", next_renewal_at=RENEWAL)


def account(jid: str = "a@x", **changes: Any) -> Account:
    """A paid account on basic, due to renew at RENEWAL, with ``changes``."""
    return replace(PAID, jid=jid, **changes)


# --- prices ----------------------------------------------------------------------


def test_a_join_mid_period_costs_the_days_left_in_whole_cents() -> None:
    price = join_price(usd("10"), T0 + timedelta(days=15), RENEWAL, 5)
    # 16 of 31 days left: $10 * 16 / 31 = $5.1612903... -> $5.16.
    assert price.amount == usd("5.16")
    assert price.period == "202601" and price.paid_until == RENEWAL and price.full == usd("10")


def test_rounding_is_half_up_at_exactly_half_a_cent() -> None:
    # One cent over the period, half of it left: half a cent -> one cent.
    start = datetime(2026, 3, 1, tzinfo=UTC)
    renewal = datetime(2026, 4, 1, tzinfo=UTC)
    whole = int((renewal - start).total_seconds())
    now = renewal - timedelta(seconds=whole // 2)
    assert join_price(usd("0.01"), now, renewal, 1).amount == usd("0.01")
    assert join_price(usd("0.01"), now + timedelta(seconds=1), renewal, 1).amount == Money(0)


def test_a_join_at_the_start_costs_the_whole_month_and_past_the_renewal_nothing() -> None:
    assert join_price(usd("10"), T0, RENEWAL, 5).amount == usd("10")
    late = join_price(usd("10"), RENEWAL + timedelta(hours=2), RENEWAL, 5)
    assert late.amount == Money(0)  # the renewal (not run yet) charges the full month


def test_time_already_paid_by_a_former_main_is_not_charged_again() -> None:
    now = T0 + timedelta(days=15)
    assert join_price(usd("10"), now, RENEWAL, 5, paid_until=RENEWAL).amount == Money(0)
    part = join_price(usd("10"), now, RENEWAL, 5, paid_until=T0 + timedelta(days=25))
    assert part.amount == usd("1.94")  # $10 * 6/31 = $1.9355, in whole cents


@given(
    units=st.integers(0, 10**9),
    offset=st.integers(-40 * 86400, 40 * 86400),
)
def test_a_join_never_costs_more_than_a_month_nor_less_than_zero(units: int, offset: int) -> None:
    price = join_price(Money(units), T0 + timedelta(seconds=offset), RENEWAL, 5)
    assert Money(0) <= price.amount <= Money(units)


def test_the_period_starts_one_month_before_the_renewal_on_the_renewal_day() -> None:
    assert current_period_start(RENEWAL, 5) == T0
    march31 = datetime(2026, 3, 31, 8, tzinfo=UTC)
    assert current_period_start(march31, 31) == datetime(2026, 2, 28, 8, tzinfo=UTC)
    assert join_ref("202601", "b@x") == "join:202601:b@x"


def test_a_leaf_that_leaves_stays_paid_to_its_mains_renewal() -> None:
    now = T0 + timedelta(days=3)
    assert paid_until_after_leaving(RENEWAL, now) == RENEWAL
    assert paid_until_after_leaving(None, now) == now
    assert paid_until_after_leaving(T0, now) == now  # a main past its renewal: nothing left


# --- who may join whom ----------------------------------------------------------------


def test_only_an_active_unfrozen_paid_account_with_room_pays_for_others() -> None:
    assert main_refusal(account(), 9, 10) is None
    cases = {
        JoinRefusal.MAIN_NOT_PAID: [
            main_refusal(None, 0, 10),
            main_refusal(account(kind=AccountKind.TRIAL), 0, 10),
            main_refusal(account(status=AccountStatus.CLOSED), 0, 10),
        ],
        JoinRefusal.MAIN_IS_LEAF: [main_refusal(account(kind=AccountKind.LEAF), 0, 10)],
        JoinRefusal.MAIN_FROZEN: [
            main_refusal(account(freezes=frozenset({FreezeKind.BILLING})), 0, 10)
        ],
        JoinRefusal.GROUP_FULL: [main_refusal(account(), 10, 10)],
    }
    for reason, refusals in cases.items():
        for refused in refusals:
            assert refused is not None and refused.reason is reason
            assert isinstance(refused, NotAllowed) and str(refused)


def test_only_a_trial_outside_any_group_holding_no_money_may_become_a_leaf() -> None:
    trial = account("t@x", kind=AccountKind.TRIAL, next_renewal_at=None)
    zero = Money(0)
    assert leaf_refusal("m@x", trial, "", zero, new_allowed=False) is None
    assert leaf_refusal("m@x", None, "", zero, new_allowed=True) is None
    assert leaf_refusal("m@x", None, "", zero, new_allowed=False) is JoinRefusal.NO_ACCOUNT
    assert leaf_refusal("t@x", trial, "", zero, new_allowed=False) is JoinRefusal.SELF
    assert leaf_refusal("m@x", trial, "7", zero, new_allowed=False) is JoinRefusal.IN_A_GROUP
    assert leaf_refusal("m@x", trial, "", Money(1), new_allowed=False) is JoinRefusal.HOLDS_MONEY
    for kind in (AccountKind.PAID, AccountKind.LEAF):  # a main (with leaves or not), a leaf
        other = account("o@x", kind=kind)
        assert leaf_refusal("m@x", other, "", zero, new_allowed=False) is JoinRefusal.NOT_TRIAL
    closed = account("c@x", kind=AccountKind.TRIAL, status=AccountStatus.CLOSED)
    assert leaf_refusal("m@x", closed, "", zero, new_allowed=True) is JoinRefusal.NOT_TRIAL


# --- codes and moves ---------------------------------------------------------------------


def test_codes_are_long_random_and_typed_forgivingly() -> None:
    codes = {GROUP_CODES.new() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == GROUP_CODES.length for c in codes)
    code = next(iter(codes))
    shown = GROUP_CODES.display(code)
    assert shown.count("-") == 3
    assert GROUP_CODES.normalise(shown.lower()) == code
    assert GROUP_CODES.normalise(" " + shown.replace("-", " ") + " ") == code
    assert GROUP_CODES.normalise("O" + code[1:]) == GROUP_CODES.normalise("0" + code[1:])
    for bad in ("", code[:-1], code + "0", code[:-1] + "U", "١" * GROUP_CODES.length):
        assert GROUP_CODES.normalise(bad) is None


def test_a_referral_code_allows_one_sign_up_by_default_and_at_most_max_leaves() -> None:
    assert check_uses(1, 10) == 1 and check_uses(10, 10) == 10
    for bad in (0, 11, -1):
        with pytest.raises(NotAllowed):
            check_uses(bad, 10)


def test_a_code_is_live_while_open_unused_and_not_expired() -> None:
    code = GroupCode("C" * 24, CodeKind.REFERRAL, "m@x", T0, T0 + timedelta(days=7))
    assert code.live(T0)
    assert not code.live(T0 + timedelta(days=7))
    used = GroupCode(code.code, code.kind, code.main, T0, code.expires_at, used=1)
    revoked = GroupCode(code.code, code.kind, code.main, T0, code.expires_at, status="revoked")
    assert not used.live(T0) and not revoked.live(T0)


def test_a_move_survives_its_round_trip_through_redis_fields() -> None:
    move = Move(
        MoveOp.JOIN,
        "m@x",
        "7",
        T0,
        ref="join:202601:b@x",
        amount=Money(51_613),
        plan="basic",
        version=2,
        price=usd("10"),
        code="C" * 24,
        paid_until=RENEWAL,
    )
    assert Move.decode(move.fields(), "USD") == move
    leave = Move(MoveOp.LEAVE, "m@x", "7", T0, paid_until=RENEWAL, by="m@x")
    assert Move.decode(leave.fields(), "USD") == leave
    with pytest.raises(CorruptRecord):
        Move.decode({"op": "jump", "main": "m", "index": "1", "at": T0.isoformat()}, "USD")


# --- numbers -------------------------------------------------------------------------------


def test_numbers_are_e164() -> None:
    assert parse_e164("+15550100199") == "+15550100199"
    assert parse_e164(" +1 (555) 010-0199 ") == "+15550100199"
    assert parse_e164("+44.20.7946.0000") == "+442079460000"
    for bad in ("15550100199", "+05550100199", "+1555", "+1234567890123456", "+1555x0100", "", "+"):
        with pytest.raises(BadNumber):
            parse_e164(bad)


def test_group_and_number_keys_are_documented_as_built() -> None:
    documented = (ROOT / "keys.md").read_text()
    built = [
        keys.leaf_jids("INDEX"),
        keys.leaf_jids_index("JID"),
        keys.group_move("JID"),
        keys.group_joins("JID"),
        keys.group_lock("JID"),
        keys.group_code("{CODE}"),
        keys.group_codes("JID"),
        keys.number_owner("NUMBER"),
    ]
    for key in built:
        assert f"| `{key}` |" in documented, key
    assert keys.leaf_jids("7") == "payment-leaf_jids-{7}"  # the names the product spec fixes
    assert keys.leaf_jids_index("a@x") == "payment-leaf_jids_index-{a@x}"

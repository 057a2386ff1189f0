"""Moving an account to a new JID: everything arrives, the old JID is a stranger, nothing is
charged twice. The bodies run on fakeredis and on the real redis-server."""

from __future__ import annotations

import pytest

from payments import keys
from payments.accounts.currency import choose_currency
from payments.accounts.records import AccountKind, AccountStatus, FreezeKind
from payments.billing.freezes import operator_freeze
from payments.billing.payment import pay_invoices
from payments.billing.renewal import renew_account
from payments.cards.records import Dispute, DisputeStatus
from payments.codes import MOVE_CODES, CodeRefused
from payments.errors import NotAllowed, WrongCurrency
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.moves.flow import can_receive, claim, operator_move
from payments.moves.rules import MoveState
from payments.notices import NoticeChoice
from payments.stores import Store
from tests.support.billing import T0, cycle_of, days, kinds, usd
from tests.support.cards import payment_of
from tests.support.moves import (
    LEAF,
    MOVED_AT,
    NEW,
    NUMBER,
    OLD,
    flow_of,
    listed,
    main_worth_moving,
    moved_entries,
    offer_code,
)


async def test_a_main_moves_with_its_leaf_number_invoice_credits_and_choices(store: Store) -> None:
    before = await main_worth_moving(store)
    old_account = await store.accounts.get(OLD)
    assert old_account is not None
    owed = await store.billing.owed(OLD)
    grants = await store.credits.grants(OLD)
    code = await offer_code(store)
    assert "move_offer" in await kinds(store, NEW)
    moved = await claim(flow_of(store, NEW), NEW, MOVE_CODES.display(code), MOVED_AT, attempts=10)
    assert (moved.old, moved.new) == (OLD, NEW)

    new = await store.accounts.get(NEW)
    assert new is not None and new.kind is AccountKind.PAID and new.open
    assert (new.plan, new.next_renewal_at, new.number) == (
        "basic",
        old_account.next_renewal_at,
        NUMBER,
    )
    assert await store.numbers.holder(NUMBER) == NEW
    balances = await store.ledger.balances(NEW)
    assert balances.total.units == before.total
    assert await store.billing.owed(NEW) == owed and owed.units
    assert [g.id for g in await store.credits.grants(NEW)] == [g.id for g in grants]
    assert [a.pack for a in await store.credits.autobuys(NEW)] == ["sms100"]
    assert await store.choices.off(NEW) == {NoticeChoice.USAGE}
    group = await store.groups.of(NEW)
    assert group is not None and group.main == NEW and group.leaves == (LEAF,)
    assert await store.groups.main_of(LEAF) == NEW
    snapshot = await store.billing.current_snapshot(LEAF)
    assert snapshot is not None and snapshot.paid_by == NEW
    [first, *_] = await store.ledger.entries(NEW)
    assert first.kind is EntryKind.MOVED and OLD in first.reason
    assert (await store.referrals.code(before.code)) is not None
    assert not (await store.referrals.code(before.code)).open  # type: ignore[union-attr]

    old = await store.accounts.get(OLD)
    assert old is not None and old.status is AccountStatus.CLOSED and old.moved_to == NEW
    assert (await store.ledger.balances(OLD)).total.units == 0
    assert await store.groups.index_of(OLD) == ""
    for jid in (OLD, NEW, LEAF):
        assert await store.ledger.check(jid) == []
    assert "account_moved" in await kinds(store, OLD) and "account_moved" in await kinds(store, NEW)
    record = await store.moves.record(OLD)
    assert record is not None and record.state is MoveState.DONE

    # The new JID pays the invoice and renews for itself and the leaf.
    await store.ledger.credit(NEW, usd("40"), reason="top-up", kind=EntryKind.PAYMENT)
    paid = await pay_invoices(cycle_of(store, NEW), NEW, MOVED_AT)
    assert paid.owed is not None and not paid.owed.units
    renewed = await renew_account(cycle_of(store), NEW, T0 + days(62))
    assert [line.member for line, _ in renewed.lines] == [NEW, LEAF, "pack sms100"]


async def test_a_leaf_moves_and_its_main_lists_the_new_jid(store: Store) -> None:
    await main_worth_moving(store)
    index = await store.groups.index_of(LEAF)
    moved = await operator_move(flow_of(store, "admin"), LEAF, "kid2@example.org", MOVED_AT)
    assert moved.new == "kid2@example.org"
    assert await listed(store, index) == [OLD, "kid2@example.org"]
    assert await store.groups.main_of("kid2@example.org") == OLD
    renewed = await renew_account(cycle_of(store), OLD, T0 + days(62))
    assert [line.member for line, _ in renewed.lines] == [OLD, "kid2@example.org", "pack sms100"]


async def test_an_address_in_use_gets_no_code_and_a_claim_reads_as_any_refusal(
    store: Store,
) -> None:
    await main_worth_moving(store)
    assert not await can_receive(store, LEAF)
    assert await can_receive(store, NEW)
    await store.accounts.register_trial(NEW, T0, 30)
    assert await can_receive(store, NEW)  # a trial never used
    await store.ledger.credit(NEW, usd("1"), reason="x")
    assert not await can_receive(store, NEW)
    code = await offer_code(store)  # the same answer to Old...
    assert "move_offer" not in await kinds(store, NEW)  # ...and nothing sent to New
    with pytest.raises(CodeRefused):
        await claim(flow_of(store, NEW), NEW, code, MOVED_AT, attempts=10)
    old = await store.accounts.get(OLD)
    assert old is not None and old.open
    held = await store.accounts.get(NEW)
    assert held is not None and held.status is AccountStatus.ACTIVE
    assert await store.redis.hget(keys.account(NEW), "move_id") is None
    with pytest.raises(CodeRefused):  # someone else, with the code
        await claim(flow_of(store, LEAF), LEAF, code, MOVED_AT, attempts=10)
    assert await moved_entries(store, OLD) == []


async def test_a_debt_left_by_a_dispute_moves_out_with_its_ledger_entry(store: Store) -> None:
    await main_worth_moving(store)
    disputed_at = MOVED_AT - days(1)
    await payment_of(store, OLD, "pi_1", "10", disputed_at)
    await store.ledger.debit(OLD, (await store.ledger.balances(OLD)).prepaid, reason="spent")
    dispute = Dispute("dp_1", "pi_1", usd("10"), DisputeStatus.OPEN, disputed_at)
    await store.card_returns.open_dispute(
        OLD, dispute, reason="dispute dp_1", freeze='{"who": "x"}', actor="stripe"
    )
    assert (await store.ledger.balances(OLD)).prepaid == usd("-10")
    await operator_move(flow_of(store, "admin"), OLD, NEW, MOVED_AT)
    assert (await store.ledger.balances(OLD)).prepaid == usd("0")
    assert (await store.ledger.balances(NEW)).prepaid == usd("-10")
    assert await store.ledger.check(OLD) == [] and await store.ledger.check(NEW) == []


async def test_a_leaf_an_operator_froze_for_billing_stays_on_the_closure_schedule_when_it_moves(
    store: Store,
) -> None:
    await main_worth_moving(store)
    frozen_at = MOVED_AT - days(1)
    await operator_freeze(cycle_of(store), LEAF, FreezeKind.BILLING, "unpaid elsewhere", frozen_at)
    assert await store.schedules.at(keys.BILLING_FROZEN, LEAF) is not None
    moved = await operator_move(flow_of(store, "admin"), LEAF, "kid2@example.org", MOVED_AT)
    assert moved.new == "kid2@example.org"
    assert await store.schedules.at(keys.BILLING_FROZEN, "kid2@example.org") == frozen_at


async def test_money_in_another_currency_is_refused_by_a_jid_held_for_a_move(
    store: Store,
) -> None:
    """The JID a move is arriving at counts in the moving account's currency already: money
    in another one is refused there, as for any account that counts in a currency."""
    held = await store.moves.reserve(NEW, "m1", OLD, MOVED_AT, "USD")
    assert held == 1
    with pytest.raises(WrongCurrency):
        await store.ledger.credit(NEW, Money(50_000, "CAD"), reason="top-up", ref="pay:1")
    assert await store.ledger.credit(NEW, usd("5"), reason="top-up", ref="pay:2")
    assert (await store.ledger.balances(NEW)).prepaid == usd("5")


async def test_an_account_a_claimed_move_carries_away_keeps_its_currency(store: Store) -> None:
    """make simulate seed 1498: the new JID is held in the old account's currency at the
    claim; a currency chosen on the old account after it would arrive on a JID where money
    in the first currency was paid meanwhile. Refused until the move is over."""
    await store.accounts.register_trial(OLD, T0, 30)
    assert await store.moves.offer(OLD, "op1", NEW, T0, T0 + days(1), code="", by="admin") >= 0
    await store.moves.claim(OLD, "op1", NEW, T0)
    with pytest.raises(NotAllowed, match="moving"):
        await choose_currency(store, OLD, "CAD")
    assert await store.currencies.of(OLD) == "USD"

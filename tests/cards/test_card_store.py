"""Saved cards in Redis (payments/cards/store.py, returns_store.py and their Lua scripts),
the same bodies against fakeredis and the real redis-server."""

from __future__ import annotations

from datetime import timedelta

from payments import keys
from payments.accounts.records import FreezeKind
from payments.cards.records import CardPayment, ChargeRequest, Dispute, DisputeStatus, Purpose
from payments.cards.returns_store import Refunded
from payments.cards.store import Added, Begun, Credited, Removed
from payments.ledger.records import Balance, EntryKind
from payments.stores import Store
from tests.support.billing import T0, usd
from tests.support.cards import A, card, payment_of, registered

CAP = usd("100")


async def test_a_card_is_saved_once_per_fingerprint_and_the_first_is_the_default(
    store: Store,
) -> None:
    first, copy, second = card("pm_1", "4242"), card("pm_2", "4242"), card("pm_3", "4444")
    assert await store.cards.add(A, first, "cus_1") == (Added.ADDED, "pm_1")
    assert await store.cards.add(A, first, "cus_1") == (Added.ALREADY, "pm_1")
    assert await store.cards.add(A, copy, "cus_1") == (Added.DUPLICATE, "pm_1")
    assert await store.cards.add(A, second, "cus_1") == (Added.ADDED, "pm_3")
    profile = await store.cards.profile(A)
    assert (profile.customer, profile.default) == ("cus_1", "pm_1")
    assert [c.id for c in await store.cards.cards(A)] == ["pm_1", "pm_3"]
    assert await store.cards.set_default(A, "pm_3") and not await store.cards.set_default(A, "x")
    assert await store.cards.remove(A, "pm_3", may_be_last=False) == (Removed.REMOVED, "pm_1")
    assert (await store.cards.profile(A)).default == "pm_1"
    assert await store.cards.remove(A, "pm_1", may_be_last=False) == (Removed.KEPT, "")
    assert await store.cards.remove(A, "pm_1", may_be_last=True) == (Removed.REMOVED, "")
    assert await store.cards.remove(A, "pm_1", may_be_last=True) == (Removed.UNKNOWN, "")


async def test_one_charge_in_flight_then_credited_once_with_its_payment(store: Store) -> None:
    visa = card("pm_1", "4242")
    await store.cards.add(A, visa, "cus_1")
    first = ChargeRequest("k1", Purpose.INVOICE, usd("6"), visa, "invoice 2026-02", "202602")
    other = ChargeRequest("k2", Purpose.INVOICE, usd("6"), visa, "invoice 2026-02", "202602")
    assert await store.cards.begin_charge(A, first, T0) is Begun.STARTED
    assert await store.cards.begin_charge(A, first, T0) is Begun.RESUMED
    assert await store.cards.begin_charge(A, other, T0) is Begun.BUSY
    paid = Credited(
        usd("6"), "invoice 2026-02", "stripe:pi_1", "k1", "pm_1", "pi_1", Purpose.INVOICE
    )
    applied = await store.cards.credit(A, paid, at=T0, actor="provider:stripe")
    again = await store.cards.credit(A, paid, at=T0, actor="provider:stripe")
    assert applied.applied and not again.applied and again.entry_id == applied.entry_id
    assert (await store.ledger.balances(A)).prepaid == usd("6")
    assert await store.cards.in_flight(A) is None
    [payment] = await store.card_returns.payments(A)
    assert (payment.payment_intent, payment.amount, payment.card) == (
        "pi_1",
        usd("6"),
        "visa …4242",
    )
    assert (await store.cards.cards(A))[0].last_success == T0
    [entry] = await store.ledger.entries(A)
    assert (entry.kind, entry.ref, entry.balance) == (
        EntryKind.PAYMENT,
        "stripe:pi_1",
        Balance.PREPAID,
    )


async def test_a_declined_top_up_counts_and_gives_its_share_of_the_cap_back(store: Store) -> None:
    await registered(store, A)
    visa = card("pm_1", "4242")
    await store.cards.add(A, visa, "cus_1")
    await store.cards.set_autotopup(A, usd("25"), usd("5"))
    claim = await store.cards.claim_autotopup(A, T0, cooldown_s=3600, cap=CAP, max_failures=3)
    assert claim.number == 1 and claim.amount == usd("25")
    soon = T0 + timedelta(minutes=10)
    refused = await store.cards.claim_autotopup(A, soon, cooldown_s=3600, cap=CAP, max_failures=3)
    assert refused.refused == "cooldown"
    request = ChargeRequest("t1", Purpose.TOPUP, usd("25"), visa, "automatic top-up")
    await store.cards.begin_charge(A, request, T0)
    charge = await store.cards.in_flight(A)
    assert charge is not None
    assert await store.cards.fail(A, charge, "insufficient_funds", at=T0) == (True, 1)
    assert await store.cards.fail(A, charge, "insufficient_funds", at=T0) == (False, 0)
    profile = await store.cards.profile(A)
    assert profile.autotopup is not None and profile.autotopup.spent == usd("0")
    assert (await store.cards.cards(A))[0].last_failure == "insufficient_funds"


async def test_automatic_top_up_claims_only_when_low_within_cap_and_not_frozen(
    store: Store,
) -> None:
    await registered(store, A)
    claim = store.cards.claim_autotopup
    assert (await claim(A, T0, cooldown_s=60, cap=CAP, max_failures=3)).refused == "off"
    await store.cards.set_autotopup(A, usd("60"), usd("5"))
    await store.ledger.credit(A, usd("10"), reason="p")
    assert (await claim(A, T0, cooldown_s=60, cap=CAP, max_failures=3)).refused == "not_low"
    await store.redis.set(keys.balance_prepaid(A), 0)
    assert (await claim(A, T0, cooldown_s=60, cap=CAP, max_failures=3)).number == 1
    later = T0 + timedelta(hours=2)
    assert (await claim(A, later, cooldown_s=60, cap=CAP, max_failures=3)).refused == "cap"
    next_month = T0 + timedelta(days=31)
    await store.redis.hset(keys.freezes(A), FreezeKind.DISPUTE.value, "{}")
    assert (await claim(A, next_month, cooldown_s=60, cap=CAP, max_failures=3)).refused == "frozen"
    await store.redis.hdel(keys.freezes(A), FreezeKind.DISPUTE.value)
    assert (await claim(A, next_month, cooldown_s=60, cap=CAP, max_failures=3)).number == 2
    assert await store.cards.clear_autotopup(A)
    assert (await store.cards.profile(A)).autotopup is None


async def test_a_refund_takes_unspent_card_money_once_and_never_more(store: Store) -> None:
    await payment_of(store, A, "pi_old", "10", T0)
    await payment_of(store, A, "pi_new", "5", T0 + timedelta(days=1))
    plan = [("pi_new", usd("5")), ("pi_old", usd("2"))]
    refund = store.card_returns.refund
    done = await refund(A, "r1", plan, reason="asked", at=T0, actor="cli:op")
    assert done.status is Refunded.DONE and done.plan == tuple(plan)
    again = await refund(A, "r1", [("pi_old", usd("9"))], reason="asked", at=T0, actor="cli:op")
    assert again.status is Refunded.BEFORE and again.plan == tuple(plan)
    assert (await store.ledger.balances(A)).prepaid == usd("8")
    beyond = await refund(A, "r2", [("pi_new", usd("1"))], reason="x", at=T0, actor="cli:op")
    assert beyond.status is Refunded.NOT_REFUNDABLE
    spent = await refund(A, "r3", [("pi_old", usd("8.5"))], reason="x", at=T0, actor="cli:op")
    assert spent.status is Refunded.NOT_UNSPENT and spent.short == usd("8")
    assert await store.card_returns.undo_refund(A, "r1", "pi_old", usd("2"), reason="no",
                                                at=T0, actor="cli:op")  # fmt: skip
    by_id = {p.payment_intent: p for p in await store.card_returns.payments(A)}
    assert by_id["pi_old"].refundable == usd("10") and by_id["pi_new"].refundable == usd("0")
    assert (await store.ledger.balances(A)).prepaid == usd("10")
    assert await store.ledger.check(A) == []


async def test_a_refund_reported_by_the_provider_is_recorded_once_and_never_below_zero(
    store: Store,
) -> None:
    await payment_of(store, A, "pi_1", "10", T0)
    await store.ledger.debit(A, usd("7"), reason="spent")
    reported = store.card_returns.provider_refunded
    first = await reported(A, "pi_1", usd("5"), reason="dashboard", at=T0, actor="provider:stripe")
    again = await reported(A, "pi_1", usd("5"), reason="dashboard", at=T0, actor="provider:stripe")
    assert (first.taken, first.not_taken) == (usd("3"), usd("2"))
    assert again.known and again.taken == usd("0")
    assert (await store.ledger.balances(A)).prepaid == usd("0")
    unknown = await reported(A, "pi_x", usd("5"), reason="d", at=T0, actor="provider:stripe")
    assert not unknown.known


async def test_a_dispute_takes_the_money_even_below_zero_and_freezes_once(store: Store) -> None:
    await registered(store, A)
    await payment_of(store, A, "pi_1", "10", T0)
    await store.ledger.debit(A, usd("8"), reason="spent")
    dispute = Dispute("dp_1", "pi_1", usd("10"), DisputeStatus.OPEN, T0)
    opened = await store.card_returns.open_dispute(
        A, dispute, reason="dispute dp_1", freeze='{"who": "x"}', actor="provider:stripe"
    )
    assert opened == (True, usd("-8"))
    replay = await store.card_returns.open_dispute(
        A, dispute, reason="dispute dp_1", freeze='{"who": "y"}', actor="provider:stripe"
    )
    assert replay == (False, usd("-8"))
    assert await store.redis.hget(keys.freezes(A), "dispute") == '{"who": "x"}'
    [payment] = await store.card_returns.payments(A)
    assert payment.disputed == usd("10") and payment.refundable == usd("0")
    close = store.card_returns.close_dispute
    assert await close(A, "dp_1", True, reason="won", at=T0, actor="p") == (1, "won")
    assert await close(A, "dp_1", False, reason="lost", at=T0, actor="p") == (0, "won")
    assert await close(A, "dp_9", True, reason="won", at=T0, actor="p") == (-1, "")
    assert (await store.ledger.balances(A)).prepaid == usd("2")
    assert [d.status for d in await store.card_returns.disputes(A)] == [DisputeStatus.WON]
    assert await store.ledger.check(A) == []


async def test_the_schedule_of_card_work_is_never_pushed_later(store: Store) -> None:
    await store.cards.schedule(A, T0 + timedelta(hours=1))
    await store.cards.schedule(A, T0)
    await store.cards.schedule(A, T0 + timedelta(hours=5))
    [(jid, at)] = await store.cards.due(T0, 10, store.shards.of(A))
    assert (jid, at) == (A, T0)
    await store.cards.schedule(A, T0 - timedelta(minutes=1))  # marked again meanwhile
    await store.cards.done_looking(A, T0, None)
    assert await store.cards.due(T0, 10, store.shards.of(A)) == [(A, T0 - timedelta(minutes=1))]
    await store.cards.done_looking(A, T0 - timedelta(minutes=1), T0 + timedelta(days=1))
    assert await store.cards.due(T0, 10, store.shards.of(A)) == []
    assert await store.cards.due(T0 + timedelta(days=1), 10, store.shards.of(A)) == [
        (A, T0 + timedelta(days=1))
    ]


def test_a_card_payment_record_reads_back() -> None:
    paid = CardPayment("pi_1", usd("5"), usd("1"), usd("2"), T0, "visa …4242", "stripe:pi_1")
    assert CardPayment.decode("pi_1", paid.encode(), "USD") == paid

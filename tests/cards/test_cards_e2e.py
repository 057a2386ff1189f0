"""Saved cards end to end over HTTP: our web service on a real port, Stripe's fake beside
it sending signed webhooks, a real redis-server, the chores as systemd runs them.

A renewal paid by card when the balance is short, mixed with a voucher; a
failed default card followed by a second card; all cards failing, then a
card added that settles and unfreezes; an SCA decline that sends a link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from payments import keys
from payments.accounts.records import FreezeKind
from payments.clock import utcnow
from payments.ledger.records import Balance, EntryKind
from payments.notices import NoticeKind
from payments.stores import Store
from tests.support.billing import outbox, usd
from tests.support.cards import CardSite, card_site, paid_due

ALICE = "alice@example.org"
VISA, MASTERCARD = "4242424242424242", "5555555555554444"
DECLINED, BROKE, SCA = "4000000000000002", "4000000000009995", "4000002760003184"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[CardSite]:
    async with card_site(redis_url, real_store) as found:
        yield found


async def test_a_renewal_the_balance_cannot_pay_is_paid_by_voucher_then_card(
    site: CardSite,
) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    await paid_due(store, ALICE, now, price="10")
    await store.ledger.credit(ALICE, usd("3"), reason="voucher", balance=Balance.VOUCHER)
    await store.ledger.credit(ALICE, usd("1.5"), reason="top-up")
    await site.save(ALICE, VISA)
    await site.chores(now)
    invoice = await store.billing.invoice(ALICE, f"{now:%Y%m}")
    assert invoice is not None and not invoice.open and invoice.paid == usd("10")
    entries = await store.ledger.entries(ALICE)
    moves = [(e.kind, e.balance, e.amount) for e in entries[2:]]
    assert moves == [
        (EntryKind.CHARGE, Balance.VOUCHER, -usd("3")),  # the renewal: voucher first
        (EntryKind.CHARGE, Balance.PREPAID, -usd("1.5")),  # then prepaid
        (EntryKind.PAYMENT, Balance.PREPAID, usd("5.5")),  # the card: what was missing
        (EntryKind.CHARGE, Balance.PREPAID, -usd("5.5")),  # the invoice settled from it
    ]
    [intent] = site.stripe.intents.values()
    assert intent["amount"] == 550 and intent["metadata"]["purpose"] == "invoice"
    assert await site.deliver() == [200]  # Stripe's payment_intent.succeeded: nothing more
    assert await store.ledger.check(ALICE) == []
    assert len([e for e in await store.ledger.entries(ALICE) if e.kind is EntryKind.PAYMENT]) == 1
    told = [n.kind for n in await outbox(store, ALICE)]
    assert NoticeKind.RENEWAL_FAILED not in told and NoticeKind.CARD_PAYMENT in told


async def test_a_declined_default_card_is_followed_by_the_next_card(site: CardSite) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    await paid_due(store, ALICE, now)
    declined = await site.save(ALICE, BROKE)
    good = await site.save(ALICE, MASTERCARD)
    assert (await store.cards.profile(ALICE)).default == declined
    await site.chores(now)
    assert await store.billing.owed(ALICE) == usd("0")
    tried = [i["payment_method"] for i in site.stripe.intents.values()]
    assert tried == [declined, good]
    cards = {c.id: c for c in await store.cards.cards(ALICE)}
    assert cards[declined].last_failure == "insufficient_funds"
    assert cards[good].last_success is not None


async def test_all_cards_failing_then_a_card_added_settles_and_unfreezes(site: CardSite) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    await paid_due(store, ALICE, now)
    await site.save(ALICE, DECLINED)
    await site.save(ALICE, BROKE)
    await site.chores(now)
    [told] = [n for n in await outbox(store, ALICE) if n.kind == NoticeKind.CARD_DECLINED]
    assert "visa …0002: declined by the bank; visa …9995: insufficient funds" in told.body
    assert f"Next try on {(now + timedelta(days=1)):%Y-%m-%d}" in told.body
    for day in (1, 3, 5):  # the retry schedule: days 1, 3 and 5 of the grace
        await site.chores(now + timedelta(days=day, minutes=1))
    assert len(site.stripe.intents) == 8  # 4 attempts of 2 cards, each once
    await site.chores(now + timedelta(days=8))  # the grace is over: frozen
    assert FreezeKind.BILLING in (await store.freezes.records(ALICE))
    await site.save(ALICE, VISA)  # the card's webhook pays at once
    assert await store.billing.owed(ALICE) == usd("0")
    assert await store.freezes.records(ALICE) == {}
    assert len(site.stripe.intents) == 9


async def test_a_bank_that_wants_the_holder_gets_a_link_to_pay_on_session(site: CardSite) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    await paid_due(store, ALICE, now)
    await site.save(ALICE, SCA)
    await site.chores(now)
    [told] = [n for n in await outbox(store, ALICE) if n.kind == NoticeKind.CARD_DECLINED]
    assert "your bank asks you to confirm the payment" in told.body
    assert told.url and told.url in told.body and "/topup/" in told.url
    async with site.http.get(told.url) as response:
        page = await response.text()
    assert response.status == 200 and 'value="10.00" checked' in page
    assert (
        await store.redis.zscore(store.shards.key(keys.CARD_DUE, ALICE), ALICE) is not None
    )  # tried again on day 1

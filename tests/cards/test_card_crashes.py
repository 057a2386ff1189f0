"""A card charge cut by a crash, or answered twice: Stripe charges once (the idempotency key
per invoice, attempt and card) and the ledger credits once (the payment's ref), whichever
of the answer, the webhook and the resumption arrives first; and webhooks that are not ours."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from payments.cards.charging import STALE, resume
from payments.cards.records import ChargeRequest, Purpose
from payments.cards.rules import charge_key
from payments.cards.work import look_at
from payments.clock import utcnow
from payments.ledger.records import EntryKind
from payments.stores import Store
from payments.topup.providers.cards import OffSessionCharge
from tests.support.billing import usd
from tests.support.cards import CardSite, card_site, paid_due

ALICE = "alice@example.org"
VISA = "4242424242424242"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[CardSite]:
    async with card_site(redis_url, real_store) as found:
        yield found


async def payments(site: CardSite) -> list[str]:
    return [e.ref for e in await site.store.ledger.entries(ALICE) if e.kind is EntryKind.PAYMENT]


async def crashed_after_the_charge(site: CardSite) -> ChargeRequest:
    """A charge recorded and made at Stripe, then the process died before crediting it."""
    now = utcnow().replace(microsecond=0)
    [card] = await site.store.cards.cards(ALICE)
    key = charge_key(ALICE, f"{now:%Y%m}", "a1", card.id)
    request = ChargeRequest(key, Purpose.INVOICE, usd("10"), card, "invoice", f"{now:%Y%m}")
    await site.store.cards.begin_charge(ALICE, request, now - STALE)
    customer = (await site.store.cards.profile(ALICE)).customer
    await site.desk.provider.charge(
        OffSessionCharge(ALICE, customer, card.id, usd("10"), key, "invoice", "invoice")
    )
    return request


async def test_a_charge_the_crash_left_uncredited_is_resumed_once(site: CardSite) -> None:
    await site.store.accounts.register_trial(ALICE, utcnow(), 30)
    await site.save(ALICE, VISA)
    await crashed_after_the_charge(site)
    now = utcnow()
    first = await resume(site.desk, ALICE, now)
    assert first is not None and first.outcome is not None
    assert await resume(site.desk, ALICE, now) is None  # nothing in flight any more
    assert await site.deliver() == [200]  # the webhook too: nothing more
    assert len(site.stripe.intents) == 1 and site.stripe.charge_calls == 2
    assert await payments(site) == [f"stripe:{first.outcome.payment_intent}"]


async def test_the_webhook_credits_a_charge_before_its_answer_and_once(site: CardSite) -> None:
    await site.store.accounts.register_trial(ALICE, utcnow(), 30)
    await site.save(ALICE, VISA)
    await crashed_after_the_charge(site)
    assert await site.deliver() == [200]  # Stripe's payment_intent.succeeded came first
    assert await site.store.cards.in_flight(ALICE) is None
    assert await resume(site.desk, ALICE, utcnow()) is None
    assert len(await payments(site)) == 1
    assert (await site.store.ledger.balances(ALICE)).prepaid == usd("10")


async def test_an_old_charge_is_looked_up_rather_than_sent_again(site: CardSite) -> None:
    now = utcnow().replace(microsecond=0)
    await paid_due(site.store, ALICE, now)
    await site.save(ALICE, VISA)
    await crashed_after_the_charge(site)
    later = now + timedelta(days=2)  # Stripe forgot the key: the customer's payments are read
    await site.store.cards.schedule(ALICE, later)
    await look_at(site.desk, ALICE, later, later)
    assert site.stripe.charge_calls == 1 and len(await payments(site)) == 1


async def test_webhooks_about_what_is_not_ours_are_refused(site: CardSite) -> None:
    await site.store.accounts.register_trial(ALICE, utcnow(), 30)
    dispute = {"id": "dp_1", "payment_intent": "pi_unknown", "amount": 100, "currency": "usd"}
    strange = {"id": "evt_1", "type": "charge.dispute.created", "data": {"object": dispute}}
    assert await site.stripe.post_event(json.dumps(strange).encode(), site.http) == 404
    other = {"id": "evt_2", "type": "setup_intent.succeeded", "data": {"object": {
        "id": "seti_1", "customer": "cus_other", "payment_method": "pm_1",
        "metadata": {"jid": ALICE}}}}  # fmt: skip
    await site.store.cards.keep_customer(ALICE, "cus_alice")
    assert await site.stripe.post_event(json.dumps(other).encode(), site.http) == 422
    assert await site.store.cards.cards(ALICE) == []

"""The Stripe saved-card client (payments/topup/providers/stripe_cards.py) against the local
fake of Stripe's API: customers, setup, cards, off-session charges with the documented
test cards' outcomes, idempotency keys, refunds, and the events it reads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from payments.config import Secret, StripeConfig
from payments.money import Money
from payments.topup.providers.base import ProviderError, Refusal, WebhookRefused
from payments.topup.providers.cards import (
    CardSetUp,
    ChargeStatus,
    ChargeSucceeded,
    DisputeClosed,
    DisputeOpened,
    OffSessionCharge,
    PaymentRefunded,
    RefundFailed,
    SetupRequest,
)
from payments.topup.providers.stripe_cards import StripeCards
from tests.support.webfakes import STRIPE_KEY, STRIPE_WHSEC, FakeStripe, serve

ALICE = "alice@localhost"
VISA, DECLINED, BROKE, SCA = (
    "4242424242424242",
    "4000000000000002",
    "4000000000009995",
    "4000002760003184",
)


@pytest.fixture
async def stripe() -> AsyncIterator[tuple[StripeCards, FakeStripe]]:
    fake = FakeStripe()
    async with serve(fake.app()) as base, aiohttp.ClientSession() as http:
        fake.base = base
        config = StripeConfig(True, Secret(STRIPE_WHSEC), Secret(STRIPE_KEY), base)
        yield StripeCards(config, "USD", http), fake


def request(customer: str, method: str, key: str, cents: int = 1000) -> OffSessionCharge:
    return OffSessionCharge(
        ALICE, customer, method, Money(cents * 100), key, "invoice", "invoice 2027-02"
    )


async def test_a_card_saved_through_setup_reads_back_with_its_fingerprint(
    stripe: tuple[StripeCards, FakeStripe],
) -> None:
    cards, fake = stripe
    customer = await cards.create_customer(ALICE)
    assert await cards.create_customer(ALICE) == customer  # the same Idempotency-Key
    page = await cards.start_setup(
        SetupRequest(ALICE, customer, "https://x/ok", "https://x/no", "k1")
    )
    method = fake.complete_setup(fake.sessions[page.provider_id], VISA)
    details = await cards.card(method)
    assert (details.brand, details.last4, details.exp_year, details.customer) == (
        "visa", "4242", 2034, customer,
    )  # fmt: skip
    again = fake.new_method(VISA, customer)
    assert (await cards.card(again)).fingerprint == details.fingerprint
    setup = json.loads(fake.events[0])["data"]["object"]["setup_intent"]
    assert await cards.setup_method(setup) == method


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        (VISA, ChargeStatus.SUCCEEDED, ""),
        (DECLINED, ChargeStatus.DECLINED, "generic_decline"),
        (BROKE, ChargeStatus.DECLINED, "insufficient_funds"),
        (SCA, ChargeStatus.ACTION_REQUIRED, "authentication_required"),
    ],
)
async def test_off_session_charges_give_the_test_cards_outcomes(
    stripe: tuple[StripeCards, FakeStripe], number: str, status: ChargeStatus, code: str
) -> None:
    cards, fake = stripe
    customer = await cards.create_customer(ALICE)
    outcome = await cards.charge(request(customer, fake.new_method(number, customer), "key-1"))
    assert (outcome.status, outcome.code) == (status, code)
    assert outcome.payment_intent.startswith("pi_")


async def test_a_retried_charge_with_its_key_is_charged_once(
    stripe: tuple[StripeCards, FakeStripe],
) -> None:
    cards, fake = stripe
    customer = await cards.create_customer(ALICE)
    method = fake.new_method(VISA, customer)
    first = await cards.charge(request(customer, method, "inv-1"))
    again = await cards.charge(request(customer, method, "inv-1"))
    assert first == again and fake.charge_calls == 2 and len(fake.intents) == 1
    with pytest.raises(ProviderError):  # the same key for another amount: Stripe refuses
        await cards.charge(request(customer, method, "inv-1", cents=2000))
    assert await cards.find_charge(customer, "inv-1") == first
    assert await cards.find_charge(customer, "never-sent") is None


async def test_refunds_are_made_once_per_key_and_refused_beyond_the_payment(
    stripe: tuple[StripeCards, FakeStripe],
) -> None:
    cards, fake = stripe
    customer = await cards.create_customer(ALICE)
    paid = await cards.charge(request(customer, fake.new_method(VISA, customer), "k"))
    first = await cards.refund(paid.payment_intent, Money(40_000), "refund-r1")
    assert await cards.refund(paid.payment_intent, Money(40_000), "refund-r1") == first
    with pytest.raises(RefundFailed):
        await cards.refund(paid.payment_intent, Money(70_000), "refund-r2")


async def test_the_events_of_saved_cards_are_read(stripe: tuple[StripeCards, FakeStripe]) -> None:
    cards, fake = stripe
    customer = await cards.create_customer(ALICE)
    page = await cards.start_setup(
        SetupRequest(ALICE, customer, "https://x/ok", "https://x/no", "k")
    )
    method = fake.complete_setup(fake.sessions[page.provider_id], VISA)
    paid = await cards.charge(request(customer, method, "key-9"))
    await cards.refund(paid.payment_intent, Money(10_000), "r")
    dispute, _ = fake.dispute(paid.payment_intent)
    fake.close_dispute(dispute, won=True)
    events = [cards.parse_event(body) for body in fake.events]
    session, setup, succeeded, refunded, opened, closed = events
    assert isinstance(session, CardSetUp) and session.setup_intent and session.jid == ALICE
    assert isinstance(setup, CardSetUp) and setup.payment_method == method
    assert isinstance(succeeded, ChargeSucceeded) and succeeded.key == "key-9"
    assert succeeded.amount == Money(100_000) and succeeded.payment_method == method
    assert isinstance(refunded, PaymentRefunded) and refunded.total == Money(10_000)
    assert isinstance(opened, DisputeOpened) and opened.amount == Money(100_000)
    assert isinstance(closed, DisputeClosed) and closed.won and closed.dispute == dispute


async def test_events_of_other_currencies_and_other_kinds(
    stripe: tuple[StripeCards, FakeStripe],
) -> None:
    cards, _ = stripe
    other = {"type": "charge.refunded", "data": {"object": {
        "payment_intent": "pi_1", "amount_refunded": 100, "currency": "eur"}}}  # fmt: skip
    with pytest.raises(WebhookRefused) as refused:
        cards.parse_event(json.dumps(other).encode())
    assert refused.value.reason is Refusal.MISMATCH
    ignored = {"type": "customer.updated", "data": {"object": {"id": "cus_1"}}}
    assert cards.parse_event(json.dumps(ignored).encode()) is None
    checkout_payment = {"type": "payment_intent.succeeded", "data": {"object": {
        "id": "pi_2", "metadata": {}, "amount_received": 100, "currency": "usd"}}}  # fmt: skip
    assert cards.parse_event(json.dumps(checkout_payment).encode()) is None

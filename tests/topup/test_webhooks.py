"""Provider webhooks against the real web service, real redis-server and fake provider APIs.

Each refusal gets its own test: a 4xx, nothing credited, nothing queued for
the user, one log line and one count in /metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from payments import keys
from payments.clock import utcnow
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.topup.checkout import PendingPayment
from payments.topup.providers import testprovider
from payments.topup.providers.testprovider import derive_secret
from payments.web.state import METRICS
from tests.support.streams import stream
from tests.support.webfakes import (
    BTCPAY_STORE,
    LINK_SECRET,
    FakeBtcpay,
    FakeStripe,
    btcpay_event,
    btcpay_headers,
    fake_providers,
    running_service,
    stripe_event,
    stripe_headers,
)

ALICE = "alice@localhost"


@dataclass
class Service:
    base: str
    app: web.Application
    store: Store
    http: aiohttp.ClientSession
    stripe: FakeStripe
    btcpay: FakeBtcpay

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        async with self.http.post(self.base + path, data=body, headers=headers) as response:
            await response.read()
            return response.status

    def refusals(self, provider: str, reason: str) -> int:
        return self.app[METRICS].refusals.get(provider=provider, reason=reason)


@pytest.fixture
async def service(real_store: Store, redis_url: str) -> AsyncIterator[Service]:
    async with (
        fake_providers() as (fake_stripe, fake_btcpay),
        running_service(redis_url, stripe_base=fake_stripe.base, btcpay_base=fake_btcpay.base) as (
            base,
            app,
        ),
        aiohttp.ClientSession() as http,
    ):
        fake_stripe.webhook_url = f"{base}/webhooks/stripe"
        fake_btcpay.webhook_url = f"{base}/webhooks/btcpay"
        yield Service(base, app, real_store, http, fake_stripe, fake_btcpay)


async def nothing_credited(store: Store, jid: str = ALICE) -> bool:
    balances = await store.ledger.balances(jid)
    entries = await store.ledger.entries(jid)
    queued = await store.redis.xlen(keys.OUTBOX) if await store.redis.exists(keys.OUTBOX) else 0
    return not balances.prepaid_exists and not entries and queued == 0


async def notifications(store: Store) -> list[dict[str, str]]:
    return [fields for _id, fields in await stream(store.redis, keys.OUTBOX)]


async def record_invoice(store: Store, invoice_id: str, amount: Money, jid: str = ALICE) -> None:
    await store.payments_in.record(PendingPayment("btcpay", invoice_id, jid, amount, utcnow()))


def refused_lines(caplog: pytest.LogCaptureFixture, reason: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "webhook refused" in r.getMessage() and f"reason={reason}" in r.getMessage()
    ]


# --- Stripe -------------------------------------------------------------------


async def test_stripe_event_sent_20_times_at_once_credits_once(service: Service) -> None:
    event = stripe_event(ALICE, 2500, session_id="cs_test_once")
    body = json.dumps(event).encode()
    statuses = await asyncio.gather(
        *(service.post("/webhooks/stripe", body, stripe_headers(body)) for _ in range(20))
    )
    assert statuses == [200] * 20
    balances = await service.store.ledger.balances(ALICE)
    assert balances.prepaid == Money.whole(25)
    [entry] = await service.store.ledger.entries(ALICE)
    assert entry.kind is EntryKind.PAYMENT and entry.ref == "stripe:cs_test_once"
    assert entry.amount == Money.whole(25) and entry.actor == "provider:stripe"
    [note] = await notifications(service.store)
    assert note["to"] == ALICE and note["kind"] == "payment_received"
    assert note["body"] == "Payment received: $25.00. Balance: $25.00."
    metrics = service.app[METRICS]
    assert metrics.credits.get(provider="stripe") == 1
    assert metrics.replays.get(provider="stripe") == 19


async def test_stripe_replay_a_day_later_with_a_new_event_id_credits_nothing(
    service: Service,
) -> None:
    for _ in range(2):  # two deliveries of the same session, as two different events
        body = json.dumps(stripe_event(ALICE, 1000, session_id="cs_test_same")).encode()
        assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 200
    assert (await service.store.ledger.balances(ALICE)).prepaid == Money.whole(10)
    assert len(await service.store.ledger.entries(ALICE)) == 1


async def test_stripe_wrong_signature_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(stripe_event(ALICE, 2500)).encode()
    status = await service.post(
        "/webhooks/stripe", body, stripe_headers(body, secret="whsec_other")
    )
    assert status == 400
    assert await nothing_credited(service.store)
    assert service.refusals("stripe", "bad_signature") == 1
    assert len(refused_lines(caplog, "bad_signature")) == 1


async def test_stripe_signature_of_another_body_is_refused(service: Service) -> None:
    signed = json.dumps(stripe_event(ALICE, 500)).encode()
    sent = json.dumps(stripe_event(ALICE, 50000)).encode()
    assert await service.post("/webhooks/stripe", sent, stripe_headers(signed)) == 400
    assert await nothing_credited(service.store)


async def test_stripe_missing_signature_header_is_refused(service: Service) -> None:
    body = json.dumps(stripe_event(ALICE, 2500)).encode()
    assert await service.post("/webhooks/stripe", body, {"Content-Type": "application/json"}) == 400
    assert await nothing_credited(service.store)


async def test_stripe_stale_timestamp_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(stripe_event(ALICE, 2500)).encode()
    headers = stripe_headers(body, at=int(time.time()) - 301)  # correctly signed, 5 min 1 s old
    assert await service.post("/webhooks/stripe", body, headers) == 400
    assert await nothing_credited(service.store)
    assert service.refusals("stripe", "stale") == 1
    assert len(refused_lines(caplog, "stale")) == 1


async def test_stripe_body_over_64_kib_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    event = stripe_event(ALICE, 2500)
    event["data"]["object"]["metadata"]["padding"] = "x" * (64 * 1024)
    body = json.dumps(event).encode()
    assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 413
    assert await nothing_credited(service.store)
    assert service.refusals("stripe", "too_large") == 1
    assert len(refused_lines(caplog, "too_large")) == 1


async def test_stripe_body_over_64_kib_without_length_is_refused(service: Service) -> None:
    event = stripe_event(ALICE, 2500)
    event["data"]["object"]["metadata"]["padding"] = "x" * (64 * 1024)
    body = json.dumps(event).encode()

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check first
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    url = f"{service.base}/webhooks/stripe"
    async with service.http.post(url, data=chunks(), headers=stripe_headers(body)) as response:
        assert response.status == 413
    assert await nothing_credited(service.store)


async def test_stripe_malformed_json_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"id": "evt_1", "type": "checkout.session.completed", "data": {'
    assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 400
    assert await nothing_credited(service.store)
    assert service.refusals("stripe", "malformed") == 1
    assert len(refused_lines(caplog, "malformed")) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount_total": 25.0},  # a float is never money
        {"amount_total": "2500"},
        {"metadata": {}},
        {"metadata": {"jid": "not a jid"}},
        {"id": None},
    ],
)
async def test_stripe_event_with_a_bad_field_is_refused(
    service: Service, change: dict[str, Any]
) -> None:
    event = stripe_event(ALICE, 2500)
    event["data"]["object"].update(change)
    body = json.dumps(event).encode()
    assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 400
    assert await nothing_credited(service.store)


async def test_stripe_other_currency_is_refused(service: Service) -> None:
    body = json.dumps(stripe_event(ALICE, 2500, currency="eur")).encode()
    assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 422
    assert await nothing_credited(service.store)
    assert service.refusals("stripe", "mismatch") == 1


@pytest.mark.parametrize(
    ("kind", "payment_status"),
    [("payment_intent.succeeded", "paid"), ("checkout.session.completed", "unpaid")],
)
async def test_stripe_events_that_are_not_a_payment_are_acknowledged_and_ignored(
    service: Service, kind: str, payment_status: str
) -> None:
    body = json.dumps(stripe_event(ALICE, 2500, kind=kind, payment_status=payment_status)).encode()
    assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 200
    assert await nothing_credited(service.store)


async def test_stripe_delayed_payment_credits_on_async_payment_succeeded(service: Service) -> None:
    kind = "checkout.session.async_payment_succeeded"
    body = json.dumps(stripe_event(ALICE, 4000, kind=kind, session_id="cs_test_ach")).encode()
    assert await service.post("/webhooks/stripe", body, stripe_headers(body)) == 200
    assert (await service.store.ledger.balances(ALICE)).prepaid == Money.whole(40)


# --- BTCPay -------------------------------------------------------------------


async def test_btcpay_settled_sent_20_times_at_once_credits_the_recorded_amount_once(
    service: Service,
) -> None:
    await record_invoice(service.store, "Inv20x", Money.whole(30))
    body = json.dumps(btcpay_event("Inv20x")).encode()
    statuses = await asyncio.gather(
        *(service.post("/webhooks/btcpay", body, btcpay_headers(body)) for _ in range(20))
    )
    assert statuses == [200] * 20
    assert (await service.store.ledger.balances(ALICE)).prepaid == Money.whole(30)
    [entry] = await service.store.ledger.entries(ALICE)
    assert entry.ref == "btcpay:Inv20x" and entry.kind is EntryKind.PAYMENT
    [note] = await notifications(service.store)
    assert note["body"] == "Payment received: $30.00. Balance: $30.00."
    record = await service.store.payments_in.get("btcpay", "Inv20x")
    assert record is not None and record.status.value == "credited"


async def test_btcpay_wrong_signature_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    await record_invoice(service.store, "InvSig", Money.whole(30))
    body = json.dumps(btcpay_event("InvSig")).encode()
    headers = btcpay_headers(body, secret="not-the-secret")
    assert await service.post("/webhooks/btcpay", body, headers) == 400
    assert await nothing_credited(service.store)
    assert service.refusals("btcpay", "bad_signature") == 1
    assert len(refused_lines(caplog, "bad_signature")) == 1


async def test_btcpay_body_over_64_kib_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    await record_invoice(service.store, "InvBig", Money.whole(30))
    event = {**btcpay_event("InvBig"), "padding": "x" * (64 * 1024)}
    body = json.dumps(event).encode()
    assert await service.post("/webhooks/btcpay", body, btcpay_headers(body)) == 413
    assert await nothing_credited(service.store)
    assert service.refusals("btcpay", "too_large") == 1
    assert len(refused_lines(caplog, "too_large")) == 1


async def test_btcpay_malformed_json_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    await record_invoice(service.store, "InvBad", Money.whole(30))
    body = b'{"type": "InvoiceSettled", "invoiceId": "InvBad", '
    assert await service.post("/webhooks/btcpay", body, btcpay_headers(body)) == 400
    assert await nothing_credited(service.store)
    assert service.refusals("btcpay", "malformed") == 1
    assert len(refused_lines(caplog, "malformed")) == 1


async def test_btcpay_unknown_invoice_is_refused(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(btcpay_event("InvNeverCreated")).encode()
    status = await service.post("/webhooks/btcpay", body, btcpay_headers(body))
    assert 400 <= status < 500
    assert await nothing_credited(service.store)
    assert service.refusals("btcpay", "unknown_payment") == 1
    assert len(refused_lines(caplog, "unknown_payment")) == 1


async def test_btcpay_event_of_another_store_is_refused(service: Service) -> None:
    await record_invoice(service.store, "InvStore", Money.whole(30))
    body = json.dumps(btcpay_event("InvStore", store="SomeoneElse")).encode()
    assert await service.post("/webhooks/btcpay", body, btcpay_headers(body)) == 422
    assert await nothing_credited(service.store)
    assert BTCPAY_STORE != "SomeoneElse"


async def test_btcpay_other_event_types_are_acknowledged_and_ignored(service: Service) -> None:
    await record_invoice(service.store, "InvNew", Money.whole(30))
    for kind in ("InvoiceCreated", "InvoiceProcessing", "InvoiceExpired"):
        body = json.dumps(btcpay_event("InvNew", kind=kind)).encode()
        assert await service.post("/webhooks/btcpay", body, btcpay_headers(body)) == 200
    assert await nothing_credited(service.store)


async def test_webhook_of_a_provider_not_enabled_is_refused(service: Service) -> None:
    body = b"{}"
    assert await service.post("/webhooks/paypal", body, {}) == 404
    assert service.refusals("other", "disabled") == 1


async def test_webhook_answers_503_and_credits_nothing_when_redis_is_gone(
    redis_url: str, real_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    dead = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    async with (
        running_service(dead, stripe_base="http://127.0.0.1:9") as (base, _app),
        aiohttp.ClientSession() as http,
    ):
        body = json.dumps(stripe_event(ALICE, 2500)).encode()
        async with http.post(
            f"{base}/webhooks/stripe", data=body, headers=stripe_headers(body)
        ) as r:
            assert r.status == 503
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 503
    assert await nothing_credited(real_store)


# --- the test provider --------------------------------------------------------


async def test_test_provider_webhook_is_verified_like_the_others(service: Service) -> None:
    secret = derive_secret(LINK_SECRET)
    await service.store.payments_in.record(
        PendingPayment("test", "test_abc", ALICE, Money.whole(12), utcnow())
    )
    body = json.dumps({"type": "payment.completed", "id": "test_abc"}).encode()
    forged = {"Test-Signature": testprovider.signature_header("guessed", body)}
    assert await service.post("/webhooks/test", body, forged) == 400
    unknown = json.dumps({"type": "payment.completed", "id": "test_never"}).encode()
    signed = {"Test-Signature": testprovider.signature_header(secret, unknown)}
    assert await service.post("/webhooks/test", unknown, signed) == 404
    assert await nothing_credited(service.store)
    good = {"Test-Signature": testprovider.signature_header(secret, body)}
    assert await service.post("/webhooks/test", body, good) == 200
    assert (await service.store.ledger.balances(ALICE)).prepaid == Money.whole(12)

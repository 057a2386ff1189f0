"""The top-up flow over real HTTP: link -> page -> form -> provider -> webhook -> balance.

Stripe and BTCPay are small local fakes speaking their documented API shapes;
our real client code creates the payments there, and the fakes send the
signed webhooks back as the providers do.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from payments import keys
from payments.groups import flow as groups
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.web.links import TopupLink, sign_link, topup_url
from payments.web.state import CONFIG, METRICS
from tests.support.billing import T0, basic_plan, paid_account
from tests.support.groups import flow_of
from tests.support.streams import stream
from tests.support.webfakes import (
    LINK_SECRET,
    STRIPE_KEY,
    FakeBtcpay,
    FakeStripe,
    fake_providers,
    read_form,
    running_service,
)

ALICE = "alice@localhost"


@dataclass
class Site:
    base: str
    app: web.Application
    store: Store
    http: aiohttp.ClientSession
    stripe: FakeStripe
    btcpay: FakeBtcpay

    def link(self, amount: Money | None = None, jid: str = ALICE) -> str:
        return topup_url(self.app[CONFIG], jid, datetime.now(UTC), amount)

    async def get(self, url: str) -> tuple[int, str]:
        async with self.http.get(url) as response:
            return response.status, await response.text()

    async def submit(self, url: str, fields: dict[str, str]) -> aiohttp.ClientResponse:
        async with self.http.post(url, data=fields, allow_redirects=False) as response:
            await response.read()
            return response


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[Site]:
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
        yield Site(base, app, real_store, http, fake_stripe, fake_btcpay)


async def nothing_happened(site: Site) -> bool:
    checkouts = [k async for k in site.store.redis.scan_iter(match="payment-checkout-*")]
    balances = await site.store.ledger.balances(ALICE)
    return (
        not checkouts
        and not balances.prepaid_exists
        and not site.stripe.requests
        and not site.btcpay.invoices
    )


async def test_the_page_is_a_plain_form_with_presets_other_amount_and_every_method(
    site: Site,
) -> None:
    status, page = await site.get(site.link())
    assert status == 200
    form = read_form(page)
    assert form.forms == 1 and form.method == "post" and form.scripts == 0
    assert [v for v, _ in form.radios["amount"]] == ["10.00", "25.00", "50.00", "100.00"]
    assert [v for v, _ in form.radios["method"]] == ["stripe", "btcpay", "test"]
    assert form.defaults() == {"other": "", "amount": "10.00", "method": "stripe"}
    assert 'name="viewport"' in page and ALICE in page
    assert "From $5.00 to $1000.00" in page


async def test_stripe_full_flow_credits_once_and_notifies(site: Site) -> None:
    link = site.link()
    _, page = await site.get(link)
    fields = {**read_form(page).defaults(), "amount": "25.00", "method": "stripe"}
    response = await site.submit(link, fields)
    assert response.status == 303
    [sent] = site.stripe.requests
    assert sent["line_items[0][price_data][unit_amount]"] == "2500"
    assert sent["line_items[0][price_data][currency]"] == "usd"
    assert sent["metadata[jid]"] == ALICE and sent["mode"] == "payment"
    assert sent["Idempotency-Key"].startswith("top_")
    [session_id] = site.stripe.sessions
    assert response.headers["Location"] == site.stripe.sessions[session_id]["url"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    pending = await site.store.payments_in.get("stripe", session_id)
    assert pending is not None and pending.amount == Money.whole(25) and pending.jid == ALICE
    # The user pays on Stripe's page; Stripe posts the signed event, twice.
    assert await site.stripe.pay(session_id, site.http) == 200
    assert await site.stripe.pay(session_id, site.http) == 200
    assert (await site.store.ledger.balances(ALICE)).prepaid == Money.whole(25)
    [entry] = await site.store.ledger.entries(ALICE)
    assert entry.ref == f"stripe:{session_id}" and entry.kind is EntryKind.PAYMENT
    [(_id, note)] = await stream(site.store.redis, keys.OUTBOX)
    assert note["body"] == "Payment received: $25.00. Balance: $25.00."


async def test_btcpay_full_flow_credits_the_amount_recorded_at_creation(site: Site) -> None:
    link = site.link()
    response = await site.submit(link, {"amount": "10.00", "other": "42.50", "method": "btcpay"})
    assert response.status == 303
    [(invoice_id, invoice)] = site.btcpay.invoices.items()
    assert invoice["amount"] == "42.50" and invoice["currency"] == "USD"
    assert invoice["metadata"]["jid"] == ALICE
    assert invoice["checkout"]["redirectURL"] == f"{site.base}/topup/done"
    assert response.headers["Location"] == invoice["checkoutLink"]
    assert await site.btcpay.settle(invoice_id, site.http) == 200
    assert (await site.store.ledger.balances(ALICE)).prepaid == Money(425_000)
    [entry] = await site.store.ledger.entries(ALICE)
    assert entry.ref == f"btcpay:{invoice_id}"


async def test_test_provider_completes_at_once_through_its_signed_webhook(site: Site) -> None:
    link = site.link(Money.whole(25))
    _, page = await site.get(link)
    defaults = read_form(page).defaults()
    assert defaults["amount"] == "25.00"
    async with site.http.post(link, data={**defaults, "method": "test"}) as response:
        assert response.status == 200
        assert str(response.url) == f"{site.base}/topup/done?status=paid"
        assert "Payment received" in await response.text()
    assert (await site.store.ledger.balances(ALICE)).prepaid == Money.whole(25)
    [entry] = await site.store.ledger.entries(ALICE)
    assert entry.ref.startswith("test:test_") and entry.actor == "provider:test"
    assert site.app[METRICS].credits.get(provider="test") == 1


async def test_a_preset_amount_not_in_the_presets_is_offered_and_used(site: Site) -> None:
    link = site.link(Money.whole(33))
    _, page = await site.get(link)
    form = read_form(page)
    assert form.radios["amount"][0] == ("33.00", True)
    response = await site.submit(link, {"method": "test"})  # no amount field at all
    assert response.status == 303
    assert (await site.store.ledger.balances(ALICE)).prepaid == Money.whole(33)


def tampered(link: str) -> str:
    prefix, token = link.rsplit("/", 1)
    _payload, signature = token.split(".")
    forged = TopupLink("mallory@localhost", int(time.time()) + 3600, 0)
    forged_payload = sign_link(LINK_SECRET, forged).split(".")[0]
    return f"{prefix}/{forged_payload}.{signature}"


@pytest.mark.parametrize(
    "breaks",
    [
        tampered,  # another JID with the old signature
        lambda link: link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"),
        lambda link: (
            link.rsplit("/", 1)[0]
            + "/"
            + sign_link("another-secret", TopupLink(ALICE, int(time.time()) + 60))
        ),
        lambda link: link.rsplit(".", 1)[0],
        lambda link: link.rsplit("/", 1)[0] + "/%E2%82%AC.x",
    ],
    ids=["other-jid", "signature", "other-key", "no-signature", "non-ascii"],
)
async def test_a_tampered_link_shows_a_clear_page_and_changes_nothing(
    site: Site, breaks: Callable[[str], str]
) -> None:
    bad = breaks(site.link())
    status, page = await site.get(bad)
    assert status == 404 and "This link is not valid" in page and "<form" not in page
    response = await site.submit(bad, {"amount": "25.00", "method": "test"})
    assert response.status == 404
    response = await site.submit(bad, {"amount": "25.00", "method": "stripe"})
    assert response.status == 404
    assert await nothing_happened(site)
    assert not (await site.store.ledger.balances("mallory@localhost")).prepaid_exists


async def test_an_expired_link_shows_a_clear_page_and_changes_nothing(site: Site) -> None:
    token = sign_link(LINK_SECRET, TopupLink(ALICE, int(time.time()) - 1, 250_000))
    expired = f"{site.base}/topup/{token}"
    status, page = await site.get(expired)
    assert status == 410 and "This link has expired" in page and "topup" in page
    response = await site.submit(expired, {"amount": "25.00", "method": "test"})
    assert response.status == 410
    assert await nothing_happened(site)


async def test_a_link_expires_after_the_configured_minutes(site: Site) -> None:
    config = site.app[CONFIG]
    issued = datetime.now(UTC) - timedelta(minutes=config.web.link_ttl_minutes, seconds=1)
    status, _ = await site.get(topup_url(config, ALICE, issued))
    assert status == 410
    fresh = datetime.now(UTC) - timedelta(minutes=config.web.link_ttl_minutes - 1)
    status, _ = await site.get(topup_url(config, ALICE, fresh))
    assert status == 200


@pytest.mark.parametrize(
    ("other", "says"),
    [
        ("1000.01", "the most accepted at once is $1000.00"),
        ("4.99", "the least accepted is $5.00"),
        ("25.125", "whole cents"),
        ("1e3", "is not an amount like"),
        ("-25", "is not an amount like"),
        ("25 EUR", "amounts are in USD"),
    ],
)
async def test_an_amount_out_of_bounds_is_refused_on_the_page(
    site: Site, other: str, says: str
) -> None:
    link = site.link()
    async with site.http.post(link, data={"other": other, "method": "stripe"}) as response:
        assert response.status == 400
        page = await response.text()
    assert says in page and "<form" in page
    assert await nothing_happened(site)


async def test_an_unknown_method_is_refused_on_the_page(site: Site) -> None:
    async with site.http.post(site.link(), data={"amount": "25", "method": "paypal"}) as response:
        assert response.status == 400
        assert "Choose a way to pay" in await response.text()
    assert await nothing_happened(site)


async def test_a_provider_that_does_not_answer_records_nothing(
    real_store: Store, redis_url: str
) -> None:
    async with (
        running_service(redis_url, stripe_base="http://127.0.0.1:9") as (_base, app),
        aiohttp.ClientSession() as http,
    ):
        link = topup_url(app[CONFIG], ALICE, datetime.now(UTC))
        async with http.post(link, data={"amount": "25", "method": "stripe"}) as response:
            assert response.status == 502
            assert "Nothing was charged" in await response.text()
    assert not [k async for k in real_store.redis.scan_iter(match="payment-checkout-*")]


async def test_a_provider_that_refuses_our_key_records_nothing(
    real_store: Store, redis_url: str
) -> None:
    async with fake_providers() as (fake_stripe, _):
        fake_stripe.api_key = STRIPE_KEY + "-rotated"  # ours is now the old one
        async with (
            running_service(redis_url, stripe_base=fake_stripe.base) as (_base, app),
            aiohttp.ClientSession() as http,
        ):
            link = topup_url(app[CONFIG], ALICE, datetime.now(UTC))
            async with http.post(link, data={"amount": "25", "method": "stripe"}) as response:
                assert response.status == 502
    assert not fake_stripe.sessions


async def test_healthz_and_metrics(site: Site) -> None:
    status, text = await site.get(f"{site.base}/healthz")
    assert (status, text) == (200, "ok\n")
    await site.submit(site.link(), {"amount": "25", "method": "test"})
    await site.get(site.base + "/topup/bad-token")
    async with site.http.get(f"{site.base}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        metrics = await response.text()
    assert 'accountbot_payments_credited_total{provider="test"} 1' in metrics
    assert 'accountbot_payments_credited_total{provider="stripe"} 0' in metrics
    assert "# TYPE accountbot_http_request_duration_seconds histogram" in metrics
    buckets = re.findall(
        r'accountbot_http_request_duration_seconds_count\{method="POST",route="/topup/\{token\}",'
        r'status="303"\} (\d+)',
        metrics,
    )
    assert buckets == ["1"]
    assert "bad-token" not in metrics  # routes, never paths (tokens)


async def test_a_link_of_a_trial_that_became_a_leaf_takes_no_new_payment_and_keeps_a_late_one(
    site: Site,
) -> None:
    store, main = site.store, "main@localhost"
    await basic_plan(store, "10")
    await paid_account(store, main, T0, "40")
    await store.accounts.register_trial(ALICE, T0, 30)
    link = site.link()
    response = await site.submit(link, {"amount": "25.00", "method": "btcpay"})
    assert response.status == 303  # paying in BTC takes a while...
    [invoice_id] = site.btcpay.invoices
    await groups.join(flow_of(store), main, ALICE, T0 + timedelta(days=1))  # ...she joins
    status, page = await site.get(link)
    assert status == 409 and "main@localhost pays for your account" in page
    again = await site.submit(link, {"amount": "10.00", "method": "btcpay"})
    assert again.status == 409 and len(site.btcpay.invoices) == 1
    assert await site.btcpay.settle(invoice_id, site.http) == 200  # the late confirmation
    assert (await store.ledger.balances(ALICE)).prepaid == Money.whole(25)  # kept, not lost
    notes = [fields for _id, fields in await stream(store.redis, keys.OUTBOX)]
    [receipt] = [n for n in notes if n["to"] == ALICE and n["kind"] == "payment_received"]
    assert (
        "main@localhost pays for your account, so this stays on your own balance"
        in (receipt["body"])
    )

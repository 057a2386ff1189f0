"""The top-up page of an account counting in CAD, over real HTTP with the Stripe fake: a
trial without money picks its currency on the page, pays in it, and is fixed in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from payments.stores import Store
from payments.web.links import topup_url
from payments.web.state import CONFIG
from tests.support.billing import T0
from tests.support.currencies import POLICY, cad, pay, priced_catalog, usd
from tests.support.webfakes import FakeStripe, fake_providers, read_form, running_service

ALICE = "alice@localhost"


@pytest.fixture
async def site(
    real_store: Store, redis_url: str
) -> AsyncIterator[tuple[str, web.Application, FakeStripe, aiohttp.ClientSession]]:
    await priced_catalog(real_store)
    await real_store.accounts.register_trial(ALICE, T0, 30)
    async with (
        fake_providers() as (fake_stripe, _btcpay),
        running_service(redis_url, stripe_base=fake_stripe.base, billing=POLICY) as (base, app),
        aiohttp.ClientSession() as http,
    ):
        fake_stripe.webhook_url = f"{base}/webhooks/stripe"
        yield base, app, fake_stripe, http


async def test_a_trial_pays_in_cad_from_the_page_and_is_fixed_in_it(
    real_store: Store,
    site: tuple[str, web.Application, FakeStripe, aiohttp.ClientSession],
) -> None:
    _base, app, stripe, http = site
    link = topup_url(app[CONFIG], ALICE, datetime.now(UTC))
    async with http.get(link) as response:
        page = await response.text()
    assert "From $5.00 to $1000.00" in page and 'value="CAD">Pay in CAD' in page
    async with http.post(link, data={"set_currency": "CAD"}, allow_redirects=False) as response:
        assert response.status == 303
    async with http.get(link) as response:
        page = await response.text()
    assert "From CA$5.00 to CA$1000.00" in page and "CA$25.00" in page
    fields = {**read_form(page).defaults(), "amount": "25.00", "method": "stripe"}
    async with http.post(link, data=fields, allow_redirects=False) as response:
        assert response.status == 303
    [sent] = stripe.requests
    assert sent["line_items[0][price_data][currency]"] == "cad"
    [session_id] = stripe.sessions
    assert await stripe.pay(session_id, http) == 200
    balances = await real_store.ledger.balances(ALICE)
    assert balances.total == cad("12")  # CA$25 activated it: the first month, CA$13, is paid
    async with http.get(link) as response:
        page = await response.text()
    assert "Pay in" not in page  # money arrived: the currency is fixed
    async with http.post(link, data={"set_currency": "USD"}, allow_redirects=False) as response:
        assert response.status == 409
    assert await real_store.currencies.of(ALICE) == "CAD"


async def test_a_stripe_session_in_another_currency_than_the_accounts_is_refused(
    real_store: Store,
    site: tuple[str, web.Application, FakeStripe, aiohttp.ClientSession],
) -> None:
    _base, app, stripe, http = site
    await pay(real_store, ALICE, usd("1"))
    link = topup_url(app[CONFIG], ALICE, datetime.now(UTC))
    async with http.post(link, data={"amount": "25.00", "method": "stripe"}) as response:
        assert response.status == 200
    [session_id] = stripe.sessions
    stripe.sessions[session_id]["currency"] = "cad"  # changed at the provider: not ours
    assert await stripe.pay(session_id, http) == 422  # MISMATCH, as for another store
    assert (await real_store.ledger.balances(ALICE)).total == usd("1")

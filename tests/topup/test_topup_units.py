"""Pure pieces of payments in: provider amounts, signatures, links."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.config import Secret, StripeConfig
from payments.money import Money
from payments.topup.providers import Refusal, StripeProvider, WebhookRefused
from payments.topup.providers.amounts import decimal_text, from_minor_units, payable, to_minor_units
from payments.topup.providers.stripe import signature_header
from payments.web.links import BadLink, LinkProblem, TopupLink, read_link, sign_link

SECRET = "whsec_unit"


@pytest.fixture
async def stripe() -> AsyncIterator[StripeProvider]:
    """Verifying and parsing webhooks send no request: the HTTP session stays unused."""
    config = StripeConfig(enabled=True, webhook_secret=Secret(SECRET), api_key=Secret("sk"))
    async with aiohttp.ClientSession() as http:
        yield StripeProvider(config, ("USD",), http)


@pytest.mark.parametrize(
    ("amount", "minor", "text"),
    [
        (Money(250_000), 2500, "25.00"),
        (Money(100), 1, "0.01"),
        (Money(10_000_000), 100_000, "1000.00"),
        (Money(30_000, "JPY"), 3, "3"),
        (Money(12_340, "KWD"), 1234, "1.234"),
    ],
)
def test_provider_amounts_are_exact(amount: Money, minor: int, text: str) -> None:
    assert to_minor_units(amount) == minor
    assert from_minor_units(minor, amount.currency) == amount
    assert decimal_text(amount) == text


def test_a_fraction_of_a_cent_is_not_payable() -> None:
    assert not payable(Money(125))
    with pytest.raises(ValueError, match="minor units"):
        to_minor_units(Money(125))
    with pytest.raises(TypeError):
        from_minor_units(25.0, "USD")  # type: ignore[arg-type]  # a float on purpose: refused


def test_stripe_accepts_any_matching_v1_and_refuses_a_future_timestamp(
    stripe: StripeProvider,
) -> None:
    body = b'{"type": "x"}'
    now = int(time.time())
    good = signature_header(SECRET, body, now).split(",")[1]
    header = f"t={now},v1={'0' * 64},{good},v0=ignored"
    stripe.verify({"Stripe-Signature": header}, body, now)
    future = signature_header(SECRET, body, now + 301)
    with pytest.raises(WebhookRefused) as refused:
        stripe.verify({"Stripe-Signature": future}, body, now)
    assert refused.value.reason is Refusal.STALE
    for broken in ("", "t=abc,v1=00", f"t={now}", "v1=00", f"t={now},v1=é"):
        with pytest.raises(WebhookRefused) as refused:
            stripe.verify({"Stripe-Signature": broken}, body, now)
        assert refused.value.reason is Refusal.BAD_SIGNATURE


def test_stripe_credits_the_session_once_whatever_the_event_id(stripe: StripeProvider) -> None:
    session = {
        "id": "cs_1",
        "metadata": {"jid": "Alice@Localhost/phone"},
        "amount_total": 1999,
        "currency": "usd",
        "payment_status": "paid",
    }
    event = {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": session}}
    parsed = stripe.parse(json.dumps(event).encode())
    assert parsed is not None
    assert (parsed.ref, parsed.jid, parsed.amount) == (
        "stripe:cs_1",
        "alice@localhost",
        Money(199_900),
    )


@given(
    jid=st.from_regex(r"[a-z0-9._-]{1,20}@[a-z0-9.-]{1,20}", fullmatch=True),
    units=st.integers(min_value=0, max_value=10**12),
    flip=st.integers(min_value=0, max_value=10_000),
)
def test_links_read_back_and_any_changed_character_is_refused(
    jid: str, units: int, flip: int
) -> None:
    link = TopupLink(jid, int(time.time()) + 60, units)
    token = sign_link("k", link)
    assert read_link("k", token, int(time.time())) == link
    i = flip % len(token)
    changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    with pytest.raises(BadLink) as bad:
        read_link("k", changed, int(time.time()))
    assert bad.value.problem is LinkProblem.TAMPERED
    with pytest.raises(BadLink):
        read_link("other key", token, int(time.time()))

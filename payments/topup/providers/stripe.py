"""Stripe Checkout: a Checkout Session per payment, credited on its webhook.

Creation: ``POST /v1/checkout/sessions`` (form-encoded, ``Authorization:
Bearer``; the answer carries ``id`` and ``url``). Completion: the
``checkout.session.completed`` event when its ``payment_status`` is
``paid``, or ``checkout.session.async_payment_succeeded`` for methods that
settle later. ``Stripe-Signature: t=TIMESTAMP,v1=HEX[,v1=...]`` where HEX is
HMAC-SHA256 of ``"{t}.{raw body}"`` with the endpoint's signing secret;
events older (or newer) than five minutes are refused, as Stripe's own
libraries do.

The credit's idempotency key is the Checkout Session id (``stripe:cs_...``):
one session is one payment, whatever events or deliveries report it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import aiohttp

from payments.config import StripeConfig
from payments.jid import BadJID, normalise_jid
from payments.topup.providers.amounts import from_minor_units, to_minor_units
from payments.topup.providers.base import (
    Checkout,
    PaymentEvent,
    PaymentRequest,
    ProviderError,
    Refusal,
    WebhookRefused,
)
from payments.topup.providers.signatures import hmac_hex, matches
from payments.topup.providers.wire import (
    answer_text,
    int_field,
    json_object,
    object_field,
    response_json,
    text_field,
)

TOLERANCE_SECONDS: Final = 300
SIGNATURE_HEADER: Final = "Stripe-Signature"
COMPLETED: Final = "checkout.session.completed"
ASYNC_SUCCEEDED: Final = "checkout.session.async_payment_succeeded"
PRODUCT_NAME: Final = "Account top-up"


class StripeProvider:
    name = "stripe"
    label = "Card (Stripe)"

    def __init__(
        self, config: StripeConfig, currencies: tuple[str, ...], http: aiohttp.ClientSession
    ) -> None:
        self._config = config
        self._currencies = currencies  # [billing] currencies: a session in another is refused
        self._http = http

    async def create_payment(self, request: PaymentRequest) -> Checkout:
        form = {
            "mode": "payment",
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.order_id,
            "metadata[jid]": request.jid,
            "metadata[order_id]": request.order_id,
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": request.amount.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(to_minor_units(request.amount)),
            "line_items[0][price_data][product_data][name]": PRODUCT_NAME,
            "payment_intent_data[metadata][jid]": request.jid,
            **_saving(request),
        }
        headers = {
            "Authorization": f"Bearer {self._config.api_key.reveal()}",
            # Stripe replays the first answer for a repeated Idempotency-Key.
            "Idempotency-Key": request.order_id,
        }
        url = self._config.api_base.rstrip("/") + "/v1/checkout/sessions"
        try:
            async with self._http.post(url, data=form, headers=headers) as response:
                data = response_json(response.status, await response.text(), "Stripe")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"Stripe: {exc!r}") from exc
        return Checkout(answer_text(data, "id", "Stripe"), answer_text(data, "url", "Stripe"))

    def verify(self, headers: Mapping[str, str], body: bytes, now: int) -> None:
        timestamp, signatures = _parse_signature_header(headers.get(SIGNATURE_HEADER, ""))
        secret = self._config.webhook_secret.reveal()
        expected = hmac_hex(secret, str(timestamp).encode() + b"." + body)
        if not matches(expected, signatures):
            raise WebhookRefused(Refusal.BAD_SIGNATURE, "no v1 signature matches")
        if abs(now - timestamp) > TOLERANCE_SECONDS:
            raise WebhookRefused(Refusal.STALE, f"timestamp {timestamp} is {now - timestamp}s old")

    def parse(self, body: bytes) -> PaymentEvent | None:
        event = json_object(body)
        kind = text_field(event, "type")
        session = object_field(object_field(event, "data"), "object")
        if kind not in (COMPLETED, ASYNC_SUCCEEDED):
            return None
        if kind == COMPLETED and session.get("payment_status") != "paid":
            return None  # delayed methods: async_payment_succeeded follows
        session_id = text_field(session, "id")
        currency = text_field(session, "currency").upper()
        if currency not in self._currencies:
            raise WebhookRefused(Refusal.MISMATCH, f"currency {currency}")
        amount = from_minor_units(int_field(session, "amount_total"), currency)
        if amount.units <= 0:
            raise WebhookRefused(Refusal.MALFORMED, "amount_total must be positive")
        intent = session.get("payment_intent")
        paid_by = intent if isinstance(intent, str) else ""
        return PaymentEvent(f"stripe:{session_id}", session_id, _jid_of(session), amount, paid_by)


def _saving(request: PaymentRequest) -> dict[str, str]:
    """A top-up that saves its card: paid as the account's customer, kept for off-session
    charges (the card is added when the session completes: ``stripe_cards.SAVE_CARD``)."""
    if not (request.save_card and request.customer):
        return {"customer": request.customer} if request.customer else {}
    return {
        "customer": request.customer,
        "payment_intent_data[setup_future_usage]": "off_session",
        "metadata[save_card]": "1",
    }


def _jid_of(session: Mapping[str, Any]) -> str:
    metadata = object_field(session, "metadata")
    try:
        return normalise_jid(text_field(metadata, "jid"))
    except BadJID as exc:
        raise WebhookRefused(Refusal.MALFORMED, f"metadata.jid: {exc}") from None


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = -1, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp < 0 or not signatures:
        raise WebhookRefused(Refusal.BAD_SIGNATURE, f"no t= and v1= in {SIGNATURE_HEADER}")
    return timestamp, signatures


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The header Stripe would send: for tests, the bench and local tools."""
    return f"t={timestamp},v1={hmac_hex(secret, str(timestamp).encode() + b'.' + body)}"

"""Stripe's saved cards: Customers, Checkout in setup mode, PaymentMethods, off-session
PaymentIntents, Refunds, and the webhook events that report them.

Requests are form-encoded with ``Authorization: Bearer`` and, for every
creation, an ``Idempotency-Key``: Stripe answers a repeated key with the
first answer (for 24 hours), so a retried charge never charges twice. A
declined off-session charge is an HTTP 402 whose ``error`` says why
(``code``/``decline_code``: ``card_declined``, ``insufficient_funds``,
``authentication_required`` when the bank wants the holder on session).
The webhook body is verified by ``StripeProvider.verify`` before it is read here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import aiohttp

from payments.config import StripeConfig
from payments.jid import BadJID, normalise_jid
from payments.money import Money
from payments.topup.providers.amounts import from_minor_units, to_minor_units
from payments.topup.providers.base import Checkout, ProviderError, Refusal, WebhookRefused
from payments.topup.providers.cards import (
    CardDetails,
    CardEvent,
    CardSetUp,
    ChargeOutcome,
    ChargeStatus,
    ChargeSucceeded,
    DisputeClosed,
    DisputeOpened,
    OffSessionCharge,
    PaymentRefunded,
    RefundFailed,
    SetupRequest,
)
from payments.topup.providers.wire import (
    answer_text,
    int_field,
    json_object,
    object_field,
    text_field,
)

KEY_FIELD: Final = "accountbot_key"  # our charge's idempotency key, in its metadata
SAVE_CARD: Final = "save_card"  # a top-up's Checkout Session metadata: save its card
ACTION_STATUSES: Final = frozenset({"requires_action", "requires_confirmation"})
PAGE: Final = 100


class StripeCards:
    name = "stripe"

    def __init__(self, config: StripeConfig, currency: str, http: aiohttp.ClientSession) -> None:
        self._config = config
        self._currency = currency
        self._http = http

    # --- the API --------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, form: Mapping[str, str] | None = None, key: str = ""
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self._config.api_key.reveal()}"}
        if key:
            headers["Idempotency-Key"] = key
        url = self._config.api_base.rstrip("/") + path
        try:
            async with self._http.request(method, url, data=form, headers=headers) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"Stripe: {exc!r}") from exc
        try:
            data = json.loads(text)
        except ValueError:
            raise ProviderError(f"Stripe: HTTP {status}, not JSON") from None
        if not isinstance(data, dict):
            raise ProviderError(f"Stripe: HTTP {status}, not a JSON object")
        return status, data

    async def _ok(
        self, method: str, path: str, form: Mapping[str, str] | None = None, key: str = ""
    ) -> dict[str, Any]:
        status, data = await self._call(method, path, form, key)
        if status >= 300:
            raise ProviderError(f"Stripe: HTTP {status}: {_error_text(data)}")
        return data

    async def create_customer(self, jid: str) -> str:
        form = {"description": jid, "metadata[jid]": jid}
        data = await self._ok("POST", "/v1/customers", form, f"customer-{_digest(jid)}")
        return answer_text(data, "id", "Stripe")

    async def start_setup(self, request: SetupRequest) -> Checkout:
        form = {
            "mode": "setup",
            "customer": request.customer,
            "currency": self._currency.lower(),
            "payment_method_types[0]": "card",
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
            "metadata[jid]": request.jid,
            "setup_intent_data[metadata][jid]": request.jid,
        }
        data = await self._ok("POST", "/v1/checkout/sessions", form, request.key)
        return Checkout(answer_text(data, "id", "Stripe"), answer_text(data, "url", "Stripe"))

    async def card(self, payment_method: str) -> CardDetails:
        data = await self._ok("GET", f"/v1/payment_methods/{payment_method}")
        card, customer = data.get("card"), data.get("customer")
        if not isinstance(card, dict):
            raise ProviderError(f"Stripe: payment method {payment_method} is not a card")
        try:
            return CardDetails(
                answer_text(data, "id", "Stripe"),
                str(card["brand"]),
                str(card["last4"]),
                int(card["exp_month"]),
                int(card["exp_year"]),
                str(card["fingerprint"]),
                customer if isinstance(customer, str) else "",
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ProviderError(f"Stripe: the card of {payment_method}: {exc!r}") from exc

    async def setup_method(self, setup_intent: str) -> str:
        data = await self._ok("GET", f"/v1/setup_intents/{setup_intent}")
        return answer_text(data, "payment_method", "Stripe")

    async def payment_method_of(self, payment_intent: str) -> str:
        data = await self._ok("GET", f"/v1/payment_intents/{payment_intent}")
        return answer_text(data, "payment_method", "Stripe")

    async def charge(self, request: OffSessionCharge) -> ChargeOutcome:
        form = {
            "amount": str(to_minor_units(request.amount)),
            "currency": self._currency.lower(),
            "customer": request.customer,
            "payment_method": request.payment_method,
            "payment_method_types[0]": "card",
            "off_session": "true",
            "confirm": "true",
            "description": request.description,
            "metadata[jid]": request.jid,
            f"metadata[{KEY_FIELD}]": request.key,
            "metadata[purpose]": request.purpose,
        }
        status, data = await self._call("POST", "/v1/payment_intents", form, request.key)
        if status == 402:  # a card error: declined, or the bank wants the holder (SCA)
            return _declined(data)
        if status >= 300:
            raise ProviderError(f"Stripe: HTTP {status}: {_error_text(data)}")
        return _outcome(data)

    async def find_charge(self, customer: str, key: str) -> ChargeOutcome | None:
        path = f"/v1/payment_intents?customer={customer}&limit={PAGE}"
        data = await self._ok("GET", path)
        for intent in data.get("data") or []:
            metadata = intent.get("metadata") if isinstance(intent, dict) else None
            if isinstance(metadata, dict) and metadata.get(KEY_FIELD) == key:
                return _outcome(intent)
        return None

    async def refund(self, payment_intent: str, amount: Money, key: str) -> str:
        form = {
            "payment_intent": payment_intent,
            "amount": str(to_minor_units(amount)),
            "metadata[accountbot_ref]": key,
        }
        status, data = await self._call("POST", "/v1/refunds", form, key)
        if 400 <= status < 500 and status not in (401, 409, 429):
            raise RefundFailed(f"Stripe refused the refund: {_error_text(data)}")
        if status >= 300:
            raise ProviderError(f"Stripe: HTTP {status}: {_error_text(data)}")
        return answer_text(data, "id", "Stripe")

    async def detach(self, payment_method: str) -> None:
        await self._ok("POST", f"/v1/payment_methods/{payment_method}/detach", {})

    # --- webhooks -------------------------------------------------------------------

    def parse_event(self, body: bytes) -> CardEvent | None:
        event = json_object(body)
        kind, event_id = text_field(event, "type"), str(event.get("id", ""))
        found = object_field(object_field(event, "data"), "object")
        if kind == "setup_intent.succeeded":
            return self._set_up(event_id, found, payment_method=found.get("payment_method"))
        if kind == "checkout.session.completed":
            return self._session(event_id, found)
        if kind == "payment_intent.succeeded":
            return self._succeeded(event_id, found)
        if kind == "charge.refunded":
            total = self._money(found, "amount_refunded")
            return PaymentRefunded(event_id, text_field(found, "payment_intent"), total)
        if kind in ("charge.dispute.created", "charge.dispute.closed"):
            return self._dispute(event_id, kind, found)
        return None

    def _set_up(self, event_id: str, found: Mapping[str, Any], **how: Any) -> CardSetUp | None:
        metadata = found.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("jid"):
            return None  # a setup this service did not start
        named = {k: v for k, v in how.items() if isinstance(v, str) and v}
        if not named:
            raise WebhookRefused(Refusal.MALFORMED, "a saved card without its payment method")
        customer = text_field(found, "customer")
        return CardSetUp(event_id, _jid(metadata), customer, **named)

    def _session(self, event_id: str, session: Mapping[str, Any]) -> CardSetUp | None:
        if session.get("mode") == "setup":
            return self._set_up(event_id, session, setup_intent=session.get("setup_intent"))
        metadata = session.get("metadata")
        saving = isinstance(metadata, dict) and metadata.get(SAVE_CARD) == "1"
        if not saving or session.get("payment_status") != "paid":
            return None
        return self._set_up(event_id, session, payment_intent=session.get("payment_intent"))

    def _succeeded(self, event_id: str, intent: Mapping[str, Any]) -> ChargeSucceeded | None:
        metadata = intent.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get(KEY_FIELD):
            return None  # a Checkout payment: credited by its checkout.session.completed
        amount = self._money(intent, "amount_received")
        method = intent.get("payment_method")
        return ChargeSucceeded(
            event_id,
            _jid(metadata),
            text_field(intent, "id"),
            amount,
            str(metadata[KEY_FIELD]),
            method if isinstance(method, str) else "",
            "autotopup" if metadata.get("purpose") == "autotopup" else "invoice",
        )

    def _dispute(self, event_id: str, kind: str, found: Mapping[str, Any]) -> CardEvent:
        dispute, payment = text_field(found, "id"), text_field(found, "payment_intent")
        amount = self._money(found, "amount")
        if kind == "charge.dispute.created":
            return DisputeOpened(event_id, dispute, payment, amount, str(found.get("reason", "")))
        return DisputeClosed(event_id, dispute, payment, amount, found.get("status") == "won")

    def _money(self, found: Mapping[str, Any], name: str) -> Money:
        currency = text_field(found, "currency").upper()
        if currency != self._currency:
            raise WebhookRefused(Refusal.MISMATCH, f"currency {currency}")
        value = int_field(found, name)
        if value < 0:
            raise WebhookRefused(Refusal.MALFORMED, f"{name} must not be negative")
        return from_minor_units(value, currency)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _jid(metadata: Mapping[str, Any]) -> str:
    try:
        return normalise_jid(text_field(metadata, "jid"))
    except BadJID as exc:
        raise WebhookRefused(Refusal.MALFORMED, f"metadata.jid: {exc}") from None


def _error_text(data: Mapping[str, Any]) -> str:
    error = data.get("error")
    return str(error.get("message", error))[:200] if isinstance(error, dict) else str(data)[:200]


def _outcome(intent: Mapping[str, Any]) -> ChargeOutcome:
    """What a PaymentIntent's status says of the charge."""
    pi, status = str(intent.get("id", "")), intent.get("status")
    if status == "succeeded":
        return ChargeOutcome(ChargeStatus.SUCCEEDED, pi)
    last = intent.get("last_payment_error")
    error = last if isinstance(last, dict) else {}
    code = str(error.get("decline_code") or error.get("code") or status)
    message = str(error.get("message", ""))
    if status in ACTION_STATUSES or code == "authentication_required":
        return ChargeOutcome(ChargeStatus.ACTION_REQUIRED, pi, code, message)
    if status in ("requires_payment_method", "canceled"):
        return ChargeOutcome(ChargeStatus.DECLINED, pi, code, message)
    raise ProviderError(f"Stripe: payment {pi} is {status}: not settled yet")


def _declined(data: Mapping[str, Any]) -> ChargeOutcome:
    error = data.get("error")
    if not isinstance(error, dict):
        raise ProviderError(f"Stripe: HTTP 402 without an error: {str(data)[:200]}")
    intent = error.get("payment_intent")
    pi = str(intent.get("id", "")) if isinstance(intent, dict) else ""
    code = str(error.get("decline_code") or error.get("code") or "card_declined")
    message = str(error.get("message", ""))
    if code == "authentication_required" or error.get("code") == "authentication_required":
        return ChargeOutcome(ChargeStatus.ACTION_REQUIRED, pi, "authentication_required", message)
    return ChargeOutcome(ChargeStatus.DECLINED, pi, code, message)

"""BTCPay Server (Greenfield API): an invoice per payment, credited on ``InvoiceSettled``.

Creation: ``POST /api/v1/stores/{storeId}/invoices`` with a JSON body
(``amount`` as a decimal string, ``currency``, ``metadata``,
``checkout.redirectURL``) and ``Authorization: token APIKEY``; the answer
carries ``id`` and ``checkoutLink``. Webhooks carry ``BTCPay-Sig:
sha256=HEX``, HMAC-SHA256 of the raw body with the webhook's secret.

The webhook says which invoice settled, not how much it was for: the amount
credited is the one recorded when the invoice was created (``parse`` leaves
``jid`` and ``amount`` empty and the web service looks the invoice up).
BTCPay signs no timestamp; replays are harmless because the credit is
idempotent by invoice id (``btcpay:INVOICEID``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import aiohttp

from payments.config import BtcpayConfig
from payments.topup.providers.amounts import decimal_text
from payments.topup.providers.base import (
    Checkout,
    PaymentEvent,
    PaymentRequest,
    ProviderError,
    Refusal,
    WebhookRefused,
)
from payments.topup.providers.signatures import hmac_hex, matches
from payments.topup.providers.wire import answer_text, json_object, response_json, text_field

SIGNATURE_HEADER: Final = "BTCPay-Sig"
SETTLED: Final = "InvoiceSettled"


class BtcpayProvider:
    name = "btcpay"
    label = "Bitcoin (BTCPay)"

    def __init__(self, config: BtcpayConfig, http: aiohttp.ClientSession) -> None:
        self._config = config
        self._http = http

    async def create_payment(self, request: PaymentRequest) -> Checkout:
        body = {
            "amount": decimal_text(request.amount),
            "currency": request.amount.currency,
            "metadata": {"jid": request.jid, "orderId": request.order_id},
            "checkout": {"redirectURL": request.return_url, "redirectAutomatically": True},
        }
        headers = {"Authorization": f"token {self._config.api_key.reveal()}"}
        base = self._config.api_base.rstrip("/")
        url = f"{base}/api/v1/stores/{self._config.store_id}/invoices"
        try:
            async with self._http.post(url, json=body, headers=headers) as response:
                data = response_json(response.status, await response.text(), "BTCPay")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"BTCPay: {exc!r}") from exc
        return Checkout(
            answer_text(data, "id", "BTCPay"), answer_text(data, "checkoutLink", "BTCPay")
        )

    def verify(self, headers: Mapping[str, str], body: bytes, now: int) -> None:
        scheme, _, signature = headers.get(SIGNATURE_HEADER, "").partition("=")
        expected = hmac_hex(self._config.webhook_secret.reveal(), body)
        if scheme != "sha256" or not matches(expected, [signature]):
            raise WebhookRefused(Refusal.BAD_SIGNATURE, f"{SIGNATURE_HEADER} does not match")

    def parse(self, body: bytes) -> PaymentEvent | None:
        event = json_object(body)
        if text_field(event, "type") != SETTLED:
            return None
        store_id = text_field(event, "storeId")
        if store_id != self._config.store_id:
            raise WebhookRefused(Refusal.MISMATCH, f"store {store_id}")
        invoice_id = text_field(event, "invoiceId")
        return PaymentEvent(f"btcpay:{invoice_id}", invoice_id)


def signature_header(secret: str, body: bytes) -> str:
    """The header BTCPay would send: for tests, the bench and local tools."""
    return f"sha256={hmac_hex(secret, body)}"

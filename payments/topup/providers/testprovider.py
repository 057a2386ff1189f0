"""The ``test`` provider: a payment that completes at once, for development and the demo.

It goes through the same path as a real provider: the web service records
the payment, then delivers the provider's signed webhook to its own webhook
handler (``/webhooks/test``), which verifies it like any other. The signing
key is derived from ``[web] link_secret``, so nothing outside the deployment
can forge a test payment. Never enable it in production: anyone with a
top-up link could credit themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Final

from payments.topup.providers.base import (
    Checkout,
    PaymentEvent,
    PaymentRequest,
    Refusal,
    WebhookRefused,
)
from payments.topup.providers.signatures import hmac_hex, matches
from payments.topup.providers.wire import json_object, text_field

SIGNATURE_HEADER: Final = "Test-Signature"
COMPLETED: Final = "payment.completed"


def derive_secret(link_secret: str) -> str:
    return hmac.new(
        link_secret.encode(), b"accountbot test provider webhook", hashlib.sha256
    ).hexdigest()


class InstantProvider:
    name = "test"
    label = "Test payment (completes at once)"

    def __init__(self, link_secret: str) -> None:
        self._secret = derive_secret(link_secret)

    async def create_payment(self, request: PaymentRequest) -> Checkout:
        return Checkout(f"test_{secrets.token_hex(12)}", request.return_url)

    def completion(self, checkout: Checkout) -> tuple[dict[str, str], bytes]:
        """The signed webhook the provider sends when the payment completes."""
        body = json.dumps({"type": COMPLETED, "id": checkout.provider_id}).encode()
        return {SIGNATURE_HEADER: signature_header(self._secret, body)}, body

    def verify(self, headers: Mapping[str, str], body: bytes, now: int) -> None:
        scheme, _, signature = headers.get(SIGNATURE_HEADER, "").partition("=")
        if scheme != "sha256" or not matches(hmac_hex(self._secret, body), [signature]):
            raise WebhookRefused(Refusal.BAD_SIGNATURE, f"{SIGNATURE_HEADER} does not match")

    def parse(self, body: bytes) -> PaymentEvent | None:
        event = json_object(body)
        if text_field(event, "type") != COMPLETED:
            return None
        payment_id = text_field(event, "id")
        return PaymentEvent(f"test:{payment_id}", payment_id)


def signature_header(secret: str, body: bytes) -> str:
    return f"sha256={hmac_hex(secret, body)}"

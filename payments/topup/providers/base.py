"""What every payment provider offers: create a payment, verify and read a webhook.

A provider is a small object built from config. The web service calls
``create_payment`` when a user submits the top-up form and sends the user
to ``Checkout.url``; when the provider calls back, the web service calls
``verify`` on the raw body (before parsing anything) and then ``parse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from payments.money import Money


class Refusal(StrEnum):
    """Why a webhook was refused: the label of the refusal metric and log line."""

    DISABLED = "disabled"
    TOO_LARGE = "too_large"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    MALFORMED = "malformed"
    UNKNOWN_PAYMENT = "unknown_payment"
    MISMATCH = "mismatch"  # another store, currency or account than ours


class WebhookRefused(Exception):
    """A webhook we refuse: nothing is credited; the caller answers 4xx."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class ProviderError(Exception):
    """The provider's API failed or answered something unexpected (shown as 502)."""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A payment the user asked for on the top-up page."""

    jid: str
    amount: Money
    order_id: str  # our id of the attempt: the provider's idempotency key and metadata
    return_url: str  # where the provider sends the user once paid
    cancel_url: str  # where the provider sends the user who gives up
    customer: str = ""  # the provider's customer of the account (saved cards), when known
    save_card: bool = False  # "save this card": keep the card for renewals and top-ups


@dataclass(frozen=True, slots=True)
class Checkout:
    """A payment created at the provider: its id there and the page to pay on."""

    provider_id: str
    url: str


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A verified "this payment is complete" from a provider.

    ``ref`` is the idempotency key of the credit. ``jid`` and ``amount`` are
    None when the provider does not carry them trustworthily in the event
    (BTCPay, test): the web service then uses what it recorded when the
    payment was created, found by ``provider_id``.
    """

    ref: str
    provider_id: str
    jid: str | None = None
    amount: Money | None = None
    payment_intent: str = ""  # a card payment's id at the provider (refunds, disputes)


class Provider(Protocol):
    name: str  # "stripe", "btcpay", "test": the webhook path and the metric label
    label: str  # what the top-up page shows, e.g. "Card (Stripe)"

    async def create_payment(self, request: PaymentRequest) -> Checkout:
        """Create the payment at the provider; raise ProviderError when it fails."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes, now: int) -> None:
        """Check the signature of a raw webhook body; raise WebhookRefused."""
        ...

    def parse(self, body: bytes) -> PaymentEvent | None:
        """The completed payment in a verified body, None for an event we ignore."""
        ...

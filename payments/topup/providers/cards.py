"""What a provider of saved cards offers (Stripe: ``stripe_cards.py``): customers, saving
a card, off-session charges, refunds, and the webhooks that report them.

The card flows (``payments/cards/``) speak only to this interface: the
simulator drives them with a provider of its own, the tests with the real
Stripe client against a local fake of Stripe's API.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from payments.money import Money
from payments.topup.providers.base import Checkout, ProviderError


@dataclass(frozen=True, slots=True)
class CardDetails:
    """A payment method as the provider describes it."""

    id: str  # pm_…
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    customer: str  # the customer it is attached to ('' when none)


@dataclass(frozen=True, slots=True)
class SetupRequest:
    """A page at the provider where the user saves a card (Checkout in setup mode)."""

    jid: str
    customer: str
    return_url: str
    cancel_url: str
    key: str  # idempotency key of the page's creation


@dataclass(frozen=True, slots=True)
class OffSessionCharge:
    """A charge of a saved card while the user is away (``off_session=true``)."""

    jid: str
    customer: str
    payment_method: str
    amount: Money
    key: str  # idempotency key: a retry of the same charge never charges twice
    purpose: str  # "invoice" or "autotopup": in the payment's metadata
    description: str


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"  # by the bank: insufficient funds, generic decline, expired ...
    ACTION_REQUIRED = "action_required"  # the bank wants the holder to authenticate (SCA)


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    status: ChargeStatus
    payment_intent: str  # pi_… ('' when the provider made none)
    code: str = ""  # why it failed: insufficient_funds, generic_decline, authentication_required
    message: str = ""  # the provider's words for it


class RefundFailed(ProviderError):
    """The provider refused the refund for good (already refunded, disputed ...): unlike a
    ProviderError, trying again will not help."""


# --- the webhook events of saved cards ------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardSetUp:
    """A card was saved at the provider: name one of the three ways to find it."""

    event_id: str
    jid: str
    customer: str
    payment_method: str = ""  # setup_intent.succeeded
    setup_intent: str = ""  # checkout.session.completed in setup mode
    payment_intent: str = ""  # a top-up paid with "save this card"


@dataclass(frozen=True, slots=True)
class ChargeSucceeded:
    """One of our off-session charges succeeded (its metadata names our key)."""

    event_id: str
    jid: str
    payment_intent: str
    amount: Money
    key: str
    payment_method: str = ""
    purpose: str = "invoice"  # or "autotopup", as the charge's metadata says


@dataclass(frozen=True, slots=True)
class PaymentRefunded:
    """A card payment was refunded, by us or in the provider's dashboard: ``total`` is
    everything refunded on it so far."""

    event_id: str
    payment_intent: str
    total: Money


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    event_id: str
    dispute: str  # dp_…
    payment_intent: str
    amount: Money
    reason: str


@dataclass(frozen=True, slots=True)
class DisputeClosed:
    event_id: str
    dispute: str
    payment_intent: str
    amount: Money
    won: bool


CardEvent = CardSetUp | ChargeSucceeded | PaymentRefunded | DisputeOpened | DisputeClosed


class CardProvider(Protocol):
    name: str  # "stripe": the ledger's actor and refs say it

    async def create_customer(self, jid: str) -> str:
        """A new customer for ``jid`` (idempotent for a while by the JID)."""
        ...

    async def start_setup(self, request: SetupRequest) -> Checkout:
        """The page where the user saves a card."""
        ...

    async def card(self, payment_method: str) -> CardDetails: ...

    async def setup_method(self, setup_intent: str) -> str:
        """The payment method a completed setup saved."""
        ...

    async def payment_method_of(self, payment_intent: str) -> str:
        """The payment method a payment was made with (a top-up that saves its card)."""
        ...

    async def charge(self, request: OffSessionCharge) -> ChargeOutcome:
        """Charge a saved card; ProviderError when the answer is unknown (try again with
        the same key: the provider answers the same for it)."""
        ...

    async def find_charge(self, customer: str, key: str) -> ChargeOutcome | None:
        """The charge made with ``key``, looked up in the customer's payments (for a
        charge older than the provider keeps idempotency keys); None when none was made."""
        ...

    async def refund(self, payment_intent: str, amount: Money, key: str) -> str:
        """Refund part of a payment; the refund's id. RefundFailed when refused for good."""
        ...

    async def detach(self, payment_method: str) -> None: ...

    def parse_event(self, body: bytes) -> CardEvent | None:
        """The card event of a verified webhook body, None for any other event."""
        ...

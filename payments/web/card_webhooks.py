"""The saved-card events of Stripe's webhook (after its signature was verified): a card
saved, one of our charges succeeded, a refund, a dispute opened or closed.

Each is applied once whatever the replays (the flows are idempotent by the
provider's ids); an event about a payment or account that is not ours is
refused (4xx, nothing changed) like any other webhook.
"""

from __future__ import annotations

from aiohttp import web

from payments.cards.charging import credit_reported
from payments.cards.disputes import dispute_closed, dispute_opened
from payments.cards.refunds import record_provider_refund
from payments.cards.saving import Saved, save_card
from payments.clock import utcnow
from payments.topup.providers import Refusal, WebhookRefused
from payments.topup.providers.cards import (
    CardSetUp,
    ChargeSucceeded,
    DisputeClosed,
    DisputeOpened,
    PaymentRefunded,
)
from payments.web.state import CARDS


async def card_webhook(app: web.Application, provider: str, body: bytes) -> str:
    """Apply the card event of a verified body: what it was ('' when it is none)."""
    desk = app.get(CARDS)
    if desk is None or desk.provider.name != provider:
        return ""
    event, now = desk.provider.parse_event(body), utcnow()
    if isinstance(event, CardSetUp):
        saved = await save_card(desk, event, now)
        if saved.saved is Saved.NOT_OURS:
            raise WebhookRefused(Refusal.MISMATCH, f"a card for {event.jid} of another customer")
        return f"card {saved.saved.value}"
    if isinstance(event, ChargeSucceeded):
        applied = await credit_reported(desk, event, now)
        return "credited" if applied.applied else "already credited"
    if isinstance(event, PaymentRefunded):
        found = await record_provider_refund(desk, event, now)
    elif isinstance(event, DisputeOpened):
        found = await dispute_opened(desk, event, now)
    elif isinstance(event, DisputeClosed):
        found = await dispute_closed(desk, event, now)
    else:
        return ""
    if found is None:
        raise WebhookRefused(Refusal.UNKNOWN_PAYMENT, f"{type(event).__name__}: not ours")
    return "recorded"

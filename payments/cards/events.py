"""The card provider's events, applied (the web service's webhook hands them over once their
signature is verified; the simulator hands them over directly): a card saved, one of our
charges succeeded, a refund, a dispute opened or closed. Each applies once whatever the
replays; one about a payment or a customer not ours is refused (WebhookRefused).
"""

from __future__ import annotations

from datetime import datetime

from payments.cards.charging import credit_reported
from payments.cards.desk import Desk
from payments.cards.disputes import dispute_closed, dispute_opened
from payments.cards.refunds import record_provider_refund
from payments.cards.saving import Saved, save_card
from payments.topup.providers.base import Refusal, WebhookRefused
from payments.topup.providers.cards import (
    CardEvent,
    CardSetUp,
    ChargeSucceeded,
    DisputeOpened,
    PaymentRefunded,
)


async def apply_card_event(desk: Desk, event: CardEvent, now: datetime) -> str:
    """What the event did; WebhookRefused when it is about something not ours."""
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
    else:
        found = await dispute_closed(desk, event, now)
    if found is None:
        raise WebhookRefused(Refusal.UNKNOWN_PAYMENT, f"{type(event).__name__}: not ours")
    return "recorded"

"""The saved-card events of Stripe's webhook (after its signature was verified): a card
saved, one of our charges succeeded, a refund, a dispute opened or closed.

Each is applied once whatever the replays (the flows are idempotent by the
provider's ids); an event about a payment or account that is not ours is
refused (4xx, nothing changed) like any other webhook.
"""

from __future__ import annotations

from aiohttp import web

from payments.cards.events import apply_card_event
from payments.clock import utcnow
from payments.web.state import CARDS


async def card_webhook(app: web.Application, provider: str, body: bytes) -> str:
    """Apply the card event of a verified body: what it was ('' when it is none)."""
    desk = app.get(CARDS)
    if desk is None or desk.provider.name != provider:
        return ""
    event = desk.provider.parse_event(body)
    return "" if event is None else await apply_card_event(desk, event, utcnow())

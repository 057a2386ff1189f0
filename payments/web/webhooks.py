"""``POST /webhooks/{provider}``: verify, then credit once, then answer.

Order matters: the size is checked before reading, the signature before
parsing, and 200 is sent only once ``receive_payment`` has returned (the
credit is written in Redis) and the credit is on ``[redis] wait_replicas``
replicas. When that wait times out the answer is 503 with ``Retry-After``:
the provider delivers the event again, and its ref makes the retry credit
nothing (it waits for the replicas again). Every refusal is a 4xx with
nothing credited, one log line and a count in ``/metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Final

from aiohttp import web

from payments.errors import NotYetDurable
from payments.topup.flow import Received, receive_payment
from payments.topup.providers import Provider, ProviderError, Refusal, WebhookRefused
from payments.web.card_webhooks import card_webhook
from payments.web.state import CONFIG, MAX_BODY, METRICS, PROVIDERS, STORE

log = logging.getLogger("accountbot.web.webhooks")

KNOWN: Final = frozenset({"stripe", "btcpay", "test"})
RETRY_AFTER: Final = "5"  # seconds: a replica catching up, or a failover under way
STATUS: Final = {
    Refusal.DISABLED: 404,
    Refusal.TOO_LARGE: 413,
    Refusal.BAD_SIGNATURE: 400,
    Refusal.STALE: 400,
    Refusal.MALFORMED: 400,
    Refusal.UNKNOWN_PAYMENT: 404,
    Refusal.MISMATCH: 422,
}


async def webhook(request: web.Request) -> web.Response:
    name = request.match_info["provider"]
    provider = request.app[PROVIDERS].get(name)
    try:
        if provider is None:
            raise WebhookRefused(Refusal.DISABLED, "no such provider enabled")
        body = await _read_body(request)
        received = await process_webhook(request.app, provider, request.headers, body)
        cards = await card_webhook(request.app, name, body)  # saved cards: Stripe's other events
    except WebhookRefused as refused:
        return refuse(request, name, refused)
    except ProviderError as exc:  # the card provider's API, asked about the event, failed
        log.error("webhook %s: the provider's API failed: %s", name, exc)
        return web.json_response({"error": "provider_unavailable"}, status=502)
    except NotYetDurable as exc:
        log.warning("webhook %s not acknowledged: %s", name, exc)
        return web.json_response(
            {"error": "not_yet_durable"}, status=503, headers={"Retry-After": RETRY_AFTER}
        )
    if received is None:
        return web.json_response({"status": cards or "ignored"})
    return web.json_response({"status": "credited" if received.applied else "already credited"})


async def process_webhook(
    app: web.Application, provider: Provider, headers: Mapping[str, str], body: bytes
) -> Received | None:
    """Verify and apply one delivery: the HTTP endpoint and the test provider both call this."""
    provider.verify(headers, body, int(time.time()))
    event = provider.parse(body)
    if event is None:
        return None
    received = await receive_payment(app[STORE], event, provider.name, app[CONFIG].billing)
    await app[STORE].durability.confirm([received.jid])
    counter = app[METRICS].credits if received.applied else app[METRICS].replays
    counter.inc(provider=provider.name)
    if received.applied:
        amount = received.amount
        app[METRICS].credited_units.inc(
            amount.units, provider=provider.name, currency=amount.currency
        )
        log.info("credited %s to %s (%s)", received.amount, received.jid, event.ref)
    return received


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise WebhookRefused(Refusal.TOO_LARGE, f"{request.content_length} bytes")
    try:
        return await request.read()  # the app's client_max_size is MAX_BODY
    except web.HTTPRequestEntityTooLarge:
        raise WebhookRefused(Refusal.TOO_LARGE, "body over the limit") from None


def refuse(request: web.Request, name: str, refused: WebhookRefused) -> web.Response:
    label = name if name in KNOWN else "other"
    request.app[METRICS].refusals.inc(provider=label, reason=refused.reason.value)
    log.warning(
        "webhook refused: provider=%s reason=%s detail=%r remote=%s",
        label,
        refused.reason.value,
        refused.detail,
        request.remote,
    )
    status = STATUS[refused.reason]
    return web.json_response({"error": refused.reason.value}, status=status)

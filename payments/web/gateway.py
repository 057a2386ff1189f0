"""The telephony gateway's API: ``GET /api/v1/authorize`` and ``POST /api/v1/usage``.

Both take ``Authorization: Bearer <[gateway] token>``, compared in constant
time; a wrong or missing token is 401 before anything is read. ``usage``
validates the whole batch before counting any of it (a refusal is a 4xx
with nothing changed) and answers 200 only once every count is written in
Redis and on ``[redis] wait_replicas`` replicas (else 503: send the same batch
again; its event ids make it count nothing twice). ``docs/usage.md`` documents
the JSON shapes for integrators.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from aiohttp import web

from payments.cards.standing import standing_of
from payments.clock import utcnow
from payments.config import UsageConfig
from payments.errors import NotYetDurable
from payments.jid import BadJID, normalise_jid
from payments.usage.flow import (
    COUNTED,
    DUPLICATE,
    OUT_OF_WINDOW,
    UNKNOWN,
    Meter,
    authorize,
    ingest,
)
from payments.usage.rules import BadBatch, parse_batch, parse_body
from payments.web.state import CONFIG, MAX_BODY, METRICS, STORE

log = logging.getLogger("accountbot.web.gateway")

SCHEME: Final = "bearer"


@dataclass
class Gateway:
    """The web service's metering state: its policy, its clock (tests move it) and a Meter."""

    policy: UsageConfig
    clock: Callable[[], datetime] = utcnow
    _meter: Meter | None = field(default=None, repr=False)

    def meter(self, app: web.Application) -> Meter:
        """The Meter over the store the lifespan opened (one per process: it caches plans)."""
        store = app[STORE]
        if self._meter is None or self._meter.store is not store:
            self._meter = Meter(store, self.policy, "gateway")
        return self._meter


GATEWAY: Final = web.AppKey("gateway", Gateway)


def authorized(request: web.Request) -> bool:
    token = request.app[CONFIG].gateway.token.reveal().encode()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest takes the same time whatever the content: both sides are hashed
    # first so that their lengths do not leak either.
    expected = hmac.digest(b"gateway", token, "sha256")
    offered = hmac.digest(b"gateway", given.strip().encode(), "sha256")
    return bool(token) and scheme.lower() == SCHEME and hmac.compare_digest(expected, offered)


def refuse(
    request: web.Request, endpoint: str, status: int, reason: str, **extra: object
) -> web.Response:
    request.app[METRICS].gateway_refusals.inc(endpoint=endpoint, reason=reason)
    log.warning("gateway %s refused: %s %s remote=%s", endpoint, status, reason, request.remote)
    headers = {"WWW-Authenticate": 'Bearer realm="accountbot"'} if status == 401 else None
    return web.json_response({"error": reason, **extra}, status=status, headers=headers)


async def authorize_route(request: web.Request) -> web.Response:
    if not authorized(request):
        return refuse(request, "authorize", 401, "unauthorized")
    gateway = request.app[GATEWAY]
    resource = request.query.get("resource", "")
    try:
        jid = normalise_jid(request.query.get("jid", ""))
    except BadJID as exc:
        return refuse(request, "authorize", 400, "bad_jid", detail=str(exc))
    if resource not in gateway.policy.resources:
        return refuse(
            request, "authorize", 400, "unknown_resource", resources=list(gateway.policy.resources)
        )
    now = gateway.clock()
    decision = await authorize(gateway.meter(request.app), jid, resource, now)
    reason = decision.reason.value if decision.reason else "allowed"
    request.app[METRICS].authorizations.inc(resource=resource, decision=reason)
    answer = decision.as_json(jid, resource)
    # On request only: it reads the cards and the next renewal, several times the reads of
    # the decision itself, which the gateway asks on every call (docs/usage.md).
    if request.query.get("standing") == "1":
        answer["standing"] = await standing_answer(request.app, jid, now)
    return web.json_response(answer)


async def standing_answer(app: web.Application, jid: str, now: datetime) -> dict[str, object]:
    """Good standing (a valid card, or balances that cover the next renewal), and what is
    missing when neither holds: it decides nothing here (grace and freezes do)."""
    store = app[STORE]
    payer = await store.groups.main_of(jid) or jid  # a leaf stands as its main does
    standing = await standing_of(store, app[CONFIG], payer, now)
    if standing is None:
        return {"good": False, "missing": "no account"}
    return {"good": standing.good, "missing": standing.missing() or None}


async def usage_route(request: web.Request) -> web.Response:
    if not authorized(request):
        return refuse(request, "usage", 401, "unauthorized")
    gateway = request.app[GATEWAY]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return refuse(request, "usage", 413, "too_large", limit=MAX_BODY)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return refuse(request, "usage", 413, "too_large", limit=MAX_BODY)
    now = gateway.clock()
    try:
        events = parse_batch(parse_body(body), gateway.policy, now)
    except BadBatch as exc:
        where = {} if exc.index is None else {"index": exc.index}
        return refuse(request, "usage", exc.status, "bad_batch", detail=str(exc), **where)
    done = await ingest(gateway.meter(request.app), events, now)
    try:
        await request.app[STORE].durability.confirm(done.touched)
    except NotYetDurable as exc:  # counted, not yet safe: the same batch again counts nothing
        log.warning("usage batch not acknowledged: %s", exc)
        return web.json_response(
            {"error": "not_yet_durable", "retry": True}, status=503, headers={"Retry-After": "5"}
        )
    metrics = request.app[METRICS]
    for status in (COUNTED, DUPLICATE, UNKNOWN, OUT_OF_WINDOW):
        if done.count(status):
            metrics.usage_events.inc(done.count(status), status=status)
    return web.json_response(
        {
            "counted": done.count(COUNTED),
            "duplicates": done.count(DUPLICATE),
            "unknown_accounts": done.count(UNKNOWN),
            "out_of_window": done.count(OUT_OF_WINDOW),
            "events": [
                {"event_id": e.event_id, "status": s}
                for e, s in zip(events, done.statuses, strict=True)
            ],
        }
    )


def add_gateway(app: web.Application, policy: UsageConfig) -> None:
    app[GATEWAY] = Gateway(policy)
    app.add_routes(
        [
            web.get("/api/v1/authorize", authorize_route),
            web.post("/api/v1/usage", usage_route),
        ]
    )

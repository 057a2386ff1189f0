"""The web application: routes, one lifespan owning Redis and the HTTP client, middleware.

``build_app(config)`` is all a runner needs (``accountbot web`` or a test
server); the lifespan (``cleanup_ctx``) opens the store and the providers'
HTTP client at start and closes both at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from redis.exceptions import RedisError

from payments.cards.desk import Desk
from payments.config import Config
from payments.stores import Store
from payments.topup.flow import topup_presets
from payments.topup.providers import enabled_providers
from payments.topup.providers.stripe_cards import StripeCards
from payments.web.account import add_account_page
from payments.web.cards import add_card_pages, card_worker
from payments.web.gateway import add_gateway
from payments.web.metrics import Metrics
from payments.web.state import CARDS, CONFIG, MAX_BODY, METRICS, PRESETS, PROVIDERS, STORE
from payments.web.topup import done, show_topup, submit_topup
from payments.web.webhooks import KNOWN, webhook

log = logging.getLogger("accountbot.web")

PROVIDER_TIMEOUT: Final = aiohttp.ClientTimeout(total=20, connect=5)
HEALTH_TIMEOUT: Final = 2.0

Handler = Callable[[web.Request], Awaitable[StreamResponse]]


def build_app(config: Config) -> web.Application:
    """The application for ``config``; raises ConfigError for bad ``[web] presets``."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[observe])
    app[CONFIG] = config
    app[PRESETS] = topup_presets(config)
    app[METRICS] = Metrics(sorted(KNOWN))
    app.cleanup_ctx.append(lifespan)
    app.cleanup_ctx.append(card_worker)  # after the lifespan: it uses the store and the provider
    app.add_routes(
        [
            web.get("/topup/done", done),
            web.get("/topup/{token}", show_topup),
            web.post("/topup/{token}", submit_topup),
            web.post("/webhooks/{provider}", webhook),
            web.get("/healthz", healthz),
            web.get("/metrics", metrics),
        ]
    )
    add_gateway(app, config.usage)  # /api/v1/authorize, /api/v1/usage
    add_account_page(app)  # /account/{token}...
    add_card_pages(app)  # /cards/{token}: save a card
    return app


async def lifespan(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    store = Store.for_config(config)
    http = aiohttp.ClientSession(timeout=PROVIDER_TIMEOUT)
    app[STORE] = store
    providers = app[PROVIDERS] = enabled_providers(config, http)
    if config.providers.stripe.enabled:  # saved cards are Stripe's
        cards = StripeCards(config.providers.stripe, config.billing.currency, http)
        app[CARDS] = Desk(store, config, cards, "web")
    log.info("web service up; providers: %s", ", ".join(providers) or "none")
    try:
        yield
    finally:
        await http.close()
        await store.close()
        log.info("web service stopped")


@web.middleware
async def observe(request: web.Request, handler: Handler) -> StreamResponse:
    """Time every request by route (never by path: paths carry link tokens); Redis down is 503."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except (RedisError, OSError) as exc:
        status = 503
        log.error("%s %s failed: %r", request.method, route_of(request), exc)
        return web.Response(status=503, text="service unavailable: storage unreachable\n")
    finally:
        request.app[METRICS].latency.observe(
            time.perf_counter() - started,
            method=request.method,
            route=route_of(request),
            status=str(status),
        )


def route_of(request: BaseRequest) -> str:
    info = request.match_info if isinstance(request, web.Request) else None
    resource = info.route.resource if info is not None else None
    return resource.canonical if resource is not None else "unmatched"


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[STORE].ping(), HEALTH_TIMEOUT)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("health check: redis unreachable: %r", exc)
        return web.Response(status=503, text="redis unreachable\n")
    return web.Response(text="ok\n")


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[METRICS].render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


class AccessLogger(AbstractAccessLogger):
    """One line per request with the route, not the path (a top-up path is a capability)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.3fs",
            request.remote,
            request.method,
            route_of(request),
            response.status,
            time,
        )

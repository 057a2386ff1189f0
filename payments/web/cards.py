"""``/cards/{token}``: the page that saves a card (off to the provider's setup page), and the
worker that does the card work due (``payment-card_due``) while the web service runs.

The link is personal and signed (``LinkKind.CARD``); ``GET`` shows the page
and changes nothing (chat clients fetch links to preview them), ``POST``
creates the provider's setup page (and the account's customer, once) and
answers 303 to it. The card is saved when the provider's webhook says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from payments.cards.desk import Desk
from payments.cards.saving import setup_page
from payments.cards.texts import card_line
from payments.cards.work import work_due
from payments.clock import utcnow
from payments.topup.flow import topup_refusal
from payments.topup.providers import ProviderError
from payments.web.links import BadLink, read_card_link
from payments.web.pages import card_page, message_page
from payments.web.state import CARDS, CONFIG, STORE
from payments.web.topup import HEADERS, bad_link, html

log = logging.getLogger("accountbot.web.cards")

UNAVAILABLE = ("Cards are not available", "This service does not save cards.")


def _jid(request: web.Request) -> str:
    secret = request.app[CONFIG].web.link_secret.reveal()
    return read_card_link(secret, request.match_info["token"], int(time.time()))


async def _refusal(request: web.Request, jid: str) -> web.Response | None:
    if request.app.get(CARDS) is None:
        return html(message_page(*UNAVAILABLE), 404)
    refused = await topup_refusal(request.app[STORE], jid)
    return html(message_page("No card needed", refused), 409) if refused else None


async def show_card_page(request: web.Request) -> web.Response:
    try:
        jid = _jid(request)
    except BadLink as exc:
        return bad_link(exc.problem)
    if (refused := await _refusal(request, jid)) is not None:
        return refused
    desk, now = request.app[CARDS], utcnow()
    profile = await desk.store.cards.profile(jid)
    days = desk.config.cards.expiry_warning_days
    saved = [card_line(c, profile.default, now, days) for c in await desk.store.cards.cards(jid)]
    return html(card_page(jid=jid, saved=saved, provider=desk.provider.name.title()))


async def submit_card_page(request: web.Request) -> web.Response:
    try:
        jid = _jid(request)
    except BadLink as exc:
        return bad_link(exc.problem)
    if (refused := await _refusal(request, jid)) is not None:
        return refused
    desk = request.app[CARDS]
    base = desk.config.web.public_url.rstrip("/")
    try:
        page = await setup_page(desk, jid, f"{base}/cards/done", f"{base}{request.path}")
    except ProviderError as exc:
        log.error("starting a card setup for %s failed: %s", jid, exc)
        text = "The card provider did not answer. Nothing was saved; please try again."
        return html(message_page("Please try again", text), 502)
    log.info("card setup %s for %s", page.provider_id, jid)
    raise web.HTTPSeeOther(page.url, headers=HEADERS)


async def cards_done(request: web.Request) -> web.Response:
    text = "Thank you. The bot will tell you in the chat once the card is saved."
    return html(message_page("Card added", text))


# --- the worker ---------------------------------------------------------------------------


async def card_worker(app: web.Application) -> AsyncIterator[None]:
    """A lifespan step: while the service runs, do the card work due every ``poll_seconds``."""
    desk, every = app.get(CARDS), app[CONFIG].cards.poll_seconds
    task = asyncio.create_task(_work(desk, every)) if desk is not None and every else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _work(desk: Desk, every: int) -> None:
    while True:
        try:
            await work_due(desk, utcnow())
        except (RedisError, OSError) as exc:  # Redis away: the next round tries again
            log.warning("card work: %r", exc)
        await asyncio.sleep(every)


def add_card_pages(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/cards/done", cards_done),
            web.get("/cards/{token}", show_card_page),
            web.post("/cards/{token}", submit_card_page),
        ]
    )

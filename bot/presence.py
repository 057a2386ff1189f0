"""Presence: the bot shows as available in its users' rosters (RFC 6121).

A bot that never answers presence looks offline in every client (profanity
``[offline]``, poezio ``[unavailable]``) and leaves subscription requests
pending forever. So: a ``subscribe`` is approved at once (``subscribed``) and
answered with our own ``subscribe``; an ``unsubscribe`` is acknowledged.

A client-mode bot's server keeps its roster: it answers probes and sends our
presence to every subscriber, so the bot only sends its presence once per
session. A component has no roster on the server: we keep the subscribers
in Redis (``bot-presence_subscribers``), answer probes ourselves, and send
our presence to every subscriber after each (re)connection and
``unavailable`` before a clean stop.

slixmpp's own handlers keep a roster in memory that a restart forgets, and
then answer a probe from a known subscriber with ``unsubscribed``: they are
replaced here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final, Literal

import slixmpp

from bot.senders import sender_jid
from payments.stores import Store

log = logging.getLogger(__name__)

STATUS: Final = "Account manager: send 'help'"
WITHDRAW_SECONDS: Final = 5.0
Sent = Literal["subscribe", "subscribed", "unsubscribed", "unavailable"] | None
SLIXMPP_HANDLERS: Final = (
    ("presence_subscribe", "_handle_subscribe"),
    ("presence_subscribed", "_handle_subscribed"),
    ("presence_unsubscribe", "_handle_unsubscribe"),
    ("presence_unsubscribed", "_handle_unsubscribed"),
    ("presence_probe", "_handle_probe"),
    ("roster_subscription_request", "_handle_new_subscription"),
)


class PresenceKeeper:
    def __init__(self, xmpp: slixmpp.BaseXMPP, store: Store, component: bool) -> None:
        self.xmpp = xmpp
        self.store = store
        self.component = component
        self._announcing: asyncio.Task[None] | None = None

    def setup(self) -> None:
        for event, name in SLIXMPP_HANDLERS:
            handler = getattr(self.xmpp, name, None)
            if handler is not None:
                self.xmpp.del_event_handler(event, handler)
        self.xmpp.add_event_handler("presence_subscribe", self._on_subscribe)
        self.xmpp.add_event_handler("presence_unsubscribe", self._on_unsubscribe)
        self.xmpp.add_event_handler("presence_unsubscribed", self._on_unsubscribed)
        if self.component:
            self.xmpp.add_event_handler("presence_probe", self._on_probe)

    @property
    def me(self) -> str:
        return str(self.xmpp.boundjid.bare)

    def send(self, to: str = "", ptype: Sent = None) -> None:
        """Our presence to ``to`` (a client-mode bot: to its server, which broadcasts)."""
        kwargs: dict[str, Any] = {"pfrom": self.me} if self.component else {}
        if ptype:
            self.xmpp.send_presence(pto=to or None, ptype=ptype, **kwargs)
        else:
            self.xmpp.send_presence(pto=to or None, pstatus=STATUS, **kwargs)

    def announce(self) -> None:
        """After every (re)connection: available, to every subscriber. A client-mode
        bot's server broadcasts one presence; a component tells its subscribers in the
        background (a million of them take minutes; requests are answered meanwhile)."""
        if not self.component:
            self.send()
            return
        self.stop_announcing()
        self._announcing = asyncio.create_task(self._announce_all(), name="presence")

    def stop_announcing(self) -> None:
        """The connection is gone: what was not sent goes with the next announce."""
        if self._announcing is not None:
            self._announcing.cancel()
            self._announcing = None

    async def _announce_all(self) -> None:
        sent = await self._to_subscribers(None)
        log.info("presence sent to %d subscribers", sent)

    async def withdraw(self) -> None:
        """Before a clean stop: unavailable, so rosters do not show a stopped bot online
        (for at most ``WITHDRAW_SECONDS``: a stop must not wait on a huge roster)."""
        self.stop_announcing()
        if not self.component:
            self.send(ptype="unavailable")
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._to_subscribers("unavailable"), WITHDRAW_SECONDS)

    async def _to_subscribers(self, ptype: Sent) -> int:
        sent = 0
        async for batch in self.store.botstate.subscribers():
            for jid in batch:
                self.send(jid, ptype)
            sent += len(batch)
            await asyncio.sleep(0)  # let the transport drain between batches
        return sent

    async def _on_subscribe(self, pres: Any) -> None:
        jid = _sender(pres)
        if jid is None:
            return
        if self.component:
            await self.store.botstate.add_subscriber(jid)
        self.send(jid, "subscribed")
        self.send(jid, "subscribe")
        if self.component:
            self.send(jid)

    async def _on_unsubscribe(self, pres: Any) -> None:
        jid = _sender(pres)
        if jid is not None:
            if self.component:
                await self.store.botstate.drop_subscriber(jid)
            self.send(jid, "unsubscribed")

    async def _on_unsubscribed(self, pres: Any) -> None:
        jid = _sender(pres)
        if jid is not None and self.component:
            await self.store.botstate.drop_subscriber(jid)

    async def _on_probe(self, pres: Any) -> None:
        """A probe comes from a server that holds a subscription to us: keep it known."""
        if (jid := _sender(pres)) is not None:
            await self.store.botstate.add_subscriber(jid)
            self.send(jid)


def _sender(pres: Any) -> str | None:
    return sender_jid(pres["from"])

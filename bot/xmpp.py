"""The connection: a XEP-0114 component or a client account, with the same features.

slixmpp re-establishes nothing after a lost connection (only failed connect
attempts retry, with a back-off that grows to 300 s), so reconnection is
ours: on every disconnection or failed attempt we try again after a back-off
of 1 s doubling to ``MAX_BACKOFF``, with jitter.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any
from xml.etree import ElementTree as ET

import slixmpp
from slixmpp import Message
from slixmpp.exceptions import XMPPError
from slixmpp.plugins.xep_0030.stanza.items import DiscoItems
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath

from bot.adhoc import COMMANDS_NS, AdhocCommands, register_stanzas
from bot.chat import RECEIPTS_NS, Incoming, Kind, read_message
from bot.commands.model import Reply
from bot.corked import CorkedWrites
from bot.dispatch import Dispatcher
from bot.metrics import BotMetrics
from bot.presence import PresenceKeeper
from bot.senders import refusal, sender_jid
from payments.config import XmppConfig
from payments.notices import Notice

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
KEEPALIVE_SECONDS = 60
MAX_CONCURRENT = 64  # commands in flight; the Redis pool waits beyond its own cap
CLIENT_RESOURCE = "accountbot"  # ad-hoc commands of a client-mode bot live on JID/accountbot
PLUGINS = ("xep_0030", "xep_0004", "xep_0066", "xep_0199")


def make_xmpp(config: XmppConfig) -> slixmpp.BaseXMPP:
    xmpp: slixmpp.BaseXMPP
    if config.mode == "component":
        xmpp = slixmpp.ComponentXMPP(config.jid, config.secret.reveal(), config.host, config.port)
    else:
        jid = config.jid if "/" in config.jid else f"{config.jid}/{CLIENT_RESOURCE}"
        xmpp = slixmpp.ClientXMPP(jid, config.password.reveal())
        # [xmpp] host/port name the server's STARTTLS (c2s) port: one attempt
        # per connect, so that our own back-off below owns the retries.
        xmpp.enable_direct_tls = False
        if config.plain_auth_on_loopback and config.host in ("127.0.0.1", "::1", "localhost"):
            xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
    for name in PLUGINS:
        xmpp.register_plugin(name)
    return xmpp


class AccountBot:
    def __init__(
        self, config: XmppConfig, dispatcher: Dispatcher, metrics: BotMetrics | None = None
    ) -> None:
        self.config = config
        self.dispatcher = dispatcher
        self.metrics = metrics or BotMetrics()
        self.sessions = 0
        self.xmpp = make_xmpp(config)
        CorkedWrites(self.xmpp).install()
        self.adhoc = AdhocCommands(dispatcher)
        self.presence = PresenceKeeper(self.xmpp, dispatcher.store, config.mode == "component")
        self.connected = asyncio.Event()
        self.stopping = False
        self._backoff = 1.0
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._sender_locks: dict[str, asyncio.Lock] = {}
        self._setup()

    @property
    def jid(self) -> str:
        return str(self.xmpp.boundjid.bare)

    def _setup(self) -> None:
        xmpp = self.xmpp
        register_stanzas()
        xmpp.add_event_handler("session_start", self._on_session_start)
        xmpp.add_event_handler("disconnected", self._on_disconnected)
        xmpp.add_event_handler("connection_failed", self._on_connection_failed)
        xmpp.add_event_handler("message", self._on_message)
        self.presence.setup()
        xmpp.register_handler(
            CoroutineCallback(
                "accountbot ad-hoc", StanzaPath("iq@type=set/command"), self._on_command
            )
        )
        xmpp.plugin["xep_0199"].enable_keepalive(KEEPALIVE_SECONDS, 30)

    def _identity(self) -> None:
        disco = self.xmpp.plugin["xep_0030"]
        # Per-asker list of the commands node; keyed by the JID we are bound to
        # (a client-mode bot serves ad-hoc commands on its full JID).
        disco.api.register(
            self._command_items, "get_items", jid=self.xmpp.boundjid, node=COMMANDS_NS
        )
        category, kind = (
            ("component", "generic") if self.config.mode == "component" else ("client", "bot")
        )
        disco.add_identity(category, kind, name="Account manager", jid=self.xmpp.boundjid)
        for feature in (COMMANDS_NS, "jabber:x:oob", "urn:xmpp:ping", RECEIPTS_NS):
            disco.add_feature(feature, jid=self.xmpp.boundjid)

    # --- connection --------------------------------------------------------

    def start(self) -> None:
        self.xmpp.connect(self.config.host, self.config.port)

    async def stop(self) -> None:
        self.stopping = True
        if self.connected.is_set():
            await self.presence.withdraw()
        self.connected.clear()
        if self.xmpp.transport is not None:
            self.xmpp.disconnect(wait=2)
            await asyncio.wait_for(self.xmpp.disconnected, 5)
        self.xmpp.cancel_connection_attempt()

    async def _on_session_start(self, _event: Any) -> None:
        self._backoff = 1.0
        self._identity()
        # Also what routes messages for a client-mode bot's bare JID to it.
        self.presence.announce()
        self.connected.set()
        if self.sessions:
            self.metrics.reconnects.inc()
        self.sessions += 1
        self.metrics.connected.set(1)
        log.info("connected as %s", self.xmpp.boundjid)

    def _on_disconnected(self, reason: Any) -> None:
        self.connected.clear()
        self.presence.stop_announcing()
        self.metrics.connected.set(0)
        log.warning("disconnected: %s", reason)
        self._schedule_reconnect()

    def _on_connection_failed(self, reason: Any) -> None:
        log.warning("connection failed: %s", reason)
        self.xmpp.cancel_connection_attempt()
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self.stopping:
            return
        delay = self._backoff * random.uniform(0.8, 1.2)
        self._backoff = min(MAX_BACKOFF, self._backoff * 2)
        asyncio.get_running_loop().call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        if not self.stopping and not self.connected.is_set() and self.xmpp.transport is None:
            self.xmpp.connect(self.config.host, self.config.port)

    # --- incoming ------------------------------------------------------------

    async def _on_message(self, msg: Message) -> None:
        started = time.perf_counter()
        try:
            incoming = read_message(msg)
        except Exception:  # a malformed stanza is logged and ignored, never fatal
            log.exception("unreadable message from %s", msg["from"])
            return
        self.metrics.messages.labels(incoming.kind.value).inc()
        if incoming.receipt:
            self.send_receipt(msg)
        if incoming.kind is Kind.IGNORED:
            return
        sender = sender_jid(msg["from"])
        if sender is None:
            if (text := refusal(msg["from"])) is not None:
                self.send_reply(msg, Reply(text))
            return
        async with self._slots, self._lock(sender):
            reply = await self._answer(sender, incoming)
        if reply is not None and reply.text:
            self._observe("chat", sender, reply.command, reply.outcome, started)
            self.send_reply(msg, reply)

    async def _answer(self, sender: str, incoming: Incoming) -> Reply | None:
        if incoming.kind is Kind.ENCRYPTED:
            return await self.dispatcher.encrypted(sender)
        return await self.dispatcher.chat(sender, incoming.text)

    def _lock(self, sender: str) -> asyncio.Lock:
        """Replies to one sender go out in the order of their messages."""
        if len(self._sender_locks) > 10_000:
            self._sender_locks = {k: v for k, v in self._sender_locks.items() if v.locked()}
        return self._sender_locks.setdefault(sender, asyncio.Lock())

    async def _on_command(self, iq: Any) -> None:
        started = time.perf_counter()
        account, name = str(iq["from"].bare), self._command_name(iq)
        try:
            async with self._slots:
                reply = await self.adhoc.handle(iq)
        except XMPPError as exc:
            self._observe("adhoc", account, name, exc.condition, started)
            raise  # slixmpp turns it into an IQ error with its text
        except Exception as exc:
            log.exception("ad-hoc command failed")
            self._observe("adhoc", account, name, "internal-server-error", started)
            raise XMPPError("internal-server-error", "Sorry, that failed on our side.") from exc
        self._observe("adhoc", account, name, adhoc_outcome(reply), started)
        reply.send()

    def _command_name(self, iq: Any) -> str:
        """The command an IQ names, or ``unknown`` (never the raw node: it is the sender's)."""
        command = self.dispatcher.registry.by_node(str(iq["command"]["node"]))
        return command.name if command is not None else "unknown"

    def _observe(self, face: str, account: str, command: str, outcome: str, since: float) -> None:
        """One log line and the metrics of an answered request (never what was typed)."""
        seconds = time.perf_counter() - since
        self.metrics.commands.labels(face, command or "unknown", outcome).inc()
        self.metrics.reply_seconds.labels(face).observe(seconds)
        fields = {"face": face, "account": account, "command": command, "outcome": outcome}
        log.info(
            "%s %s: %s %s in %.1f ms",
            face,
            account,
            command,
            outcome,
            seconds * 1000,
            extra={"fields": {**fields, "ms": round(seconds * 1000, 1)}},
        )

    async def _command_items(self, jid: Any, node: Any, ifrom: Any, data: Any) -> DiscoItems:
        """The commands node lists only what the asker's role may run."""
        items = DiscoItems()
        asker = sender_jid(ifrom)
        if asker is None:
            return items
        ctx = await self.dispatcher.context(asker)
        for command in self.dispatcher.registry.for_role(ctx.role):
            items.add_item(self.xmpp.boundjid, node=command.node, name=command.title)
        return items

    # --- outgoing ------------------------------------------------------------

    def send_receipt(self, msg: Message) -> None:
        """XEP-0184: the message arrived (sent before any reply to it)."""
        ack = self.xmpp.make_message(mto=msg["from"], mfrom=msg["to"])
        received = ET.SubElement(ack.xml, f"{{{RECEIPTS_NS}}}received")
        received.set("id", msg["id"])
        ack.send()

    def send_reply(self, msg: Message, reply: Reply) -> None:
        """What ``msg.reply`` sends, built without its copy of the incoming stanza."""
        mfrom = msg["to"] if self.config.mode == "component" else None
        out = self.xmpp.make_message(mto=msg["from"], mbody=reply.text, mtype="chat", mfrom=mfrom)
        if msg["thread"]:
            out["thread"], out["parent_thread"] = msg["thread"], msg["parent_thread"]
        if reply.url:
            out["oob"]["url"] = reply.url
        out.send()

    async def send_notification(self, note: Notice) -> None:
        msg = self.xmpp.make_message(
            mto=note.to, mbody=note.body, mtype="chat", mfrom=self.xmpp.boundjid.bare
        )
        # The id names the kind (renewal_done.1795...-0): clients ignore it,
        # operators and tests can tell notifications apart in logs.
        msg["id"] = f"{note.kind or 'notice'}.{note.id}"
        if note.url:
            msg["oob"]["url"] = note.url
        msg.send()


def adhoc_outcome(reply: Any) -> str:
    """``ok`` for a completed command, ``form`` while it asks, else why it stopped."""
    command = reply["command"]
    if any(kind == "error" for kind, _text in command["notes"]):
        return "error"
    return {"completed": "ok", "executing": "form"}.get(str(command["status"]), "canceled")

"""Messages as real clients send them, and a client that also keeps receipts and presence.

The extras are copied from what Conversations 2.x, poezio 0.14 and Gajim put
on a chat message (XMPP-NOTES.md, "Clients").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from xml.etree import ElementTree as ET

import slixmpp
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.support.clients import UserClient

RECEIPT = "<request xmlns='urn:xmpp:receipts'/>"
MARKABLE = "<markable xmlns='urn:xmpp:chat-markers:0'/>"
ACTIVE = "<active xmlns='http://jabber.org/protocol/chatstates'/>"
XHTML = (
    "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
    "<body xmlns='http://www.w3.org/1999/xhtml'><p><em>{}</em></p></body></html>"
)
OMEMO = (
    "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1718'>"
    "<key rid='42'>MwohBQ==</key><iv>q83vWRjEMZ0=</iv></header>"
    "<payload>c2VjcmV0</payload></encrypted>"
    "<encryption xmlns='urn:xmpp:eme:0' name='OMEMO' "
    "namespace='eu.siacs.conversations.axolotl'/>"
    "<store xmlns='urn:xmpp:hints'/>"
)
OMEMO_FALLBACK = (
    "I sent you an OMEMO encrypted message but your client doesn’t seem to support that. "
    "Find more information on https://conversations.im/omemo"
)


def origin_id(msg_id: str) -> str:
    return f"<origin-id xmlns='urn:xmpp:sid:0' id='{msg_id}'/>"


# What each client adds beside the body of every chat message.
EXTRAS = {
    "conversations": RECEIPT + MARKABLE + "{origin}" + ACTIVE,
    "poezio": ACTIVE + RECEIPT + "{origin}",
    "gajim": XHTML + RECEIPT + "{origin}",
    "dino": MARKABLE + "{origin}",
}


class RecordingClient(UserClient):
    """A user's client that also keeps delivery receipts and presence stanzas."""

    def __init__(self, jid: str, password: str) -> None:
        super().__init__(jid, password)
        # A person approves the bot's subscription request: the tests do it explicitly.
        self.auto_authorize = None
        self.auto_subscribe = False
        self.receipts: asyncio.Queue[str] = asyncio.Queue()
        self.presences: list[slixmpp.Presence] = []  # from others, in order of arrival
        self._presence_came = asyncio.Event()
        # slixmpp's "message" event fires only for messages with a body.
        self.register_handler(
            Callback(
                "receipts",
                MatchXPath("{jabber:client}message/{urn:xmpp:receipts}received"),
                self._receipt,
            )
        )
        self.add_event_handler("presence", self._presence)

    def _receipt(self, msg: StanzaBase) -> None:
        received = msg.xml.find("{urn:xmpp:receipts}received")
        assert received is not None
        self.receipts.put_nowait(str(received.get("id")))

    def _presence(self, pres: slixmpp.Presence) -> None:
        if pres["from"].bare != self.boundjid.bare:
            self.presences.append(pres)
            self._presence_came.set()

    def send_as_client(self, to: str, msg_id: str, extras: str, body: str | None = None) -> None:
        """A chat message with ``body`` (none if None) and the given extra elements."""
        msg = self.make_message(mto=to, mtype="chat")
        msg["id"] = msg_id
        if body is not None:
            msg["body"] = body
        wrapped = f"<extras>{extras.format(body or '', origin=origin_id(msg_id))}</extras>"
        for element in ET.fromstring(wrapped):  # noqa: S314 (the tests' own XML)
            msg.xml.append(element)
        msg.send()

    async def next_receipt(self, timeout: float = 10.0) -> str:
        return await asyncio.wait_for(self.receipts.get(), timeout)

    async def presence_from(
        self, jid: str, kind: str = "available", *, since: int = 0, timeout: float = 15.0
    ) -> slixmpp.Presence:
        """The first presence of ``kind`` from bare ``jid`` that came after the first
        ``since`` (whatever came in between, in any order)."""
        async with asyncio.timeout(timeout):
            while True:
                for pres in self.presences[since:]:
                    if pres["from"].bare == jid and pres["type"] == kind:
                        return pres
                self._presence_came.clear()
                await self._presence_came.wait()


@asynccontextmanager
async def recording(jid: str, password: str, port: int) -> AsyncIterator[RecordingClient]:
    """A RecordingClient logged in to the loopback server on ``port``."""
    client = RecordingClient(jid, password)
    client.connect(host="127.0.0.1", port=port)
    try:
        await asyncio.wait_for(client.session_started, 15)
        yield client
    finally:
        client.disconnect()
        await asyncio.wait_for(client.disconnected, 5)

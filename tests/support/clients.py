"""Real slixmpp user clients for the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import slixmpp
from slixmpp.types import MessageTypes


class UserClient(slixmpp.ClientXMPP):
    """A person's XMPP client: logs in without TLS (loopback only) and keeps what arrives."""

    def __init__(self, jid: str, password: str) -> None:
        super().__init__(jid, password)
        self.plugin["feature_mechanisms"].unencrypted_plain = True
        self.inbox: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.session_started = asyncio.get_running_loop().create_future()
        self.add_event_handler("session_start", self._started)
        self.add_event_handler("failed_auth", self._failed)
        self.add_event_handler("message", self._message)

    async def _started(self, _event: object) -> None:
        self.send_presence()
        if not self.session_started.done():
            self.session_started.set_result(True)

    def _failed(self, _event: object) -> None:
        if not self.session_started.done():
            self.session_started.set_exception(
                PermissionError(f"login refused for {self.boundjid}")
            )

    def _message(self, msg: slixmpp.Message) -> None:
        if msg["type"] in ("chat", "normal", "error") and (msg["body"] or msg["type"] == "error"):
            self.inbox.put_nowait(msg)

    def say(self, to: str, body: str, kind: MessageTypes = "chat") -> None:
        # slixmpp annotates send_message's mto as a JID (make_message takes a str too).
        self.send_message(mto=slixmpp.JID(to), mbody=body, mtype=kind)

    async def next_message(self, timeout: float = 10.0) -> slixmpp.Message:
        return await asyncio.wait_for(self.inbox.get(), timeout)


def is_notification(msg: slixmpp.Message) -> bool:
    """Notifications carry their kind in the id (``frozen.1795...-0``); replies do not."""
    return "." in str(msg["id"])


@asynccontextmanager
async def logged_in(
    jid: str, password: str, host: str, port: int, timeout: float = 15.0
) -> AsyncIterator[UserClient]:
    client = UserClient(jid, password)
    client.connect(host=host, port=port)
    try:
        await asyncio.wait_for(client.session_started, timeout)
        yield client
    finally:
        client.disconnect()
        await asyncio.wait_for(client.disconnected, 5)


COMMANDS_NS = "http://jabber.org/protocol/commands"


def enable_adhoc(client: UserClient) -> None:
    for plugin in ("xep_0030", "xep_0004", "xep_0050", "xep_0066"):
        client.register_plugin(plugin)


async def command_nodes(client: UserClient, bot_jid: str) -> dict[str, str]:
    """The ad-hoc commands the bot lists for this client: node -> name."""
    result = await client.plugin["xep_0030"].get_items(
        jid=slixmpp.JID(bot_jid), node=COMMANDS_NS, timeout=10
    )
    return {node: name for _jid, node, name in result["disco_items"]["items"]}


async def execute(
    client: UserClient, bot_jid: str, node: str, *steps: dict[str, object]
) -> slixmpp.Iq:
    """Run an ad-hoc command, submitting one form per step; returns the last answer."""
    iq = client.make_iq_set(ito=bot_jid)
    iq["command"]["node"] = node
    iq["command"]["action"] = "execute"
    answer: slixmpp.Iq = await iq.send(timeout=10)
    for values in steps:
        assert answer["command"]["status"] == "executing", answer
        nxt = client.make_iq_set(ito=bot_jid)
        nxt["command"]["node"] = node
        nxt["command"]["sessionid"] = answer["command"]["sessionid"]
        nxt["command"]["action"] = "next"
        form = nxt["command"]["form"]
        form["type"] = "submit"
        for var, value in values.items():
            form.add_field(var=var, value=value)
        answer = await nxt.send(timeout=10)
    return answer


def notes(answer: slixmpp.Iq) -> str:
    return "\n".join(text for _type, text in answer["command"]["notes"])

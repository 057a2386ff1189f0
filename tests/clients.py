"""Real slixmpp user clients for the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import slixmpp


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

    async def next_message(self, timeout: float = 10.0) -> slixmpp.Message:
        return await asyncio.wait_for(self.inbox.get(), timeout)


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

"""What the bot writes in one turn of its event loop leaves in one write, in order."""

from __future__ import annotations

import asyncio

import slixmpp

from bot.corked import CorkedWrites


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))


async def test_the_writes_of_one_turn_leave_together_at_the_next() -> None:
    xmpp = slixmpp.ComponentXMPP("accounts.localhost", "secret", "127.0.0.1", 1)
    CorkedWrites(xmpp).install()
    transport = Transport()
    xmpp.transport = transport
    xmpp.send_raw("<message id='1'/>")
    xmpp.send_raw(b"<message id='2'/>")
    xmpp.send_raw("<message id='3'>é</message>")
    assert transport.writes == []
    await asyncio.sleep(0)  # one turn of the loop
    assert transport.writes == [
        "<message id='1'/><message id='2'/><message id='3'>é</message>".encode()
    ]
    xmpp.send_raw("<presence/>")
    await asyncio.sleep(0)
    assert transport.writes[1:] == [b"<presence/>"]


async def test_what_is_written_after_the_stream_is_gone_is_dropped_not_raised() -> None:
    xmpp = slixmpp.ComponentXMPP("accounts.localhost", "secret", "127.0.0.1", 1)
    corked = CorkedWrites(xmpp)
    corked.install()
    xmpp.send_raw("<message/>")
    xmpp.transport = None
    await asyncio.sleep(0)
    assert corked.pending == []

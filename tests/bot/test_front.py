"""The front's pieces without a server: where stanzas end, who gets them, what a sender
hears while no worker is there."""

from __future__ import annotations

import asyncio

import pytest

from bot import front as front_module
from bot.front import (
    Front,
    Stanza,
    StanzaReader,
    StreamError,
    Upstream,
    WorkerLink,
    bounce,
    handshake_digest,
    rendezvous,
    stream_header,
)
from payments.config import Secret, XmppConfig
from tests.support.waits import eventually

DOMAIN, SECRET = "accounts.localhost", "front-secret"

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    b"xmlns='jabber:component:accept' id='abc' from='accounts.localhost'>"
)
STANZAS = [
    b"<message from='a@x/phone' to='accounts.localhost' type='chat' id='1'>"
    b"<body>balance &lt;now&gt;</body><request xmlns='urn:xmpp:receipts'/></message>",
    b"<presence from='b@x/r' to='accounts.localhost' status='a > b'/>",
    b'<iq from="c@x/r" to="accounts.localhost" type="get" id=\'q"1\'>'
    b'<ping xmlns="urn:xmpp:ping"/></iq>',
    "<message from='d@x' to='accounts.localhost'><body>é ✓ \U0001f600</body></message>".encode(),
]
STREAM = HEADER + b" ".join(STANZAS) + b"\n \n" + b"</stream:stream>"


def read_in_chunks(size: int) -> tuple[StanzaReader, list[Stanza]]:
    reader = StanzaReader()
    found: list[Stanza] = []
    for at in range(0, len(STREAM), size):
        found += reader.feed(STREAM[at : at + size])
    return reader, found


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(STREAM)])
def test_each_stanza_comes_out_whole_and_unchanged_however_the_bytes_arrive(size: int) -> None:
    reader, found = read_in_chunks(size)
    assert [s.raw for s in found] == STANZAS
    assert [s.name for s in found] == ["message", "presence", "iq", "message"]
    assert [s.sender for s in found] == ["a@x", "b@x", "c@x", "d@x"]
    assert reader.header is not None and reader.header["id"] == "abc"
    assert reader.ended


def test_nothing_comes_out_before_the_stanza_is_complete() -> None:
    reader = StanzaReader()
    assert reader.feed(HEADER + STANZAS[0][:-1]) == []
    assert [s.raw for s in reader.feed(STANZAS[0][-1:])] == [STANZAS[0]]
    assert not reader.ended


def test_bad_xml_is_a_stream_error() -> None:
    reader = StanzaReader()
    reader.feed(HEADER)
    with pytest.raises(StreamError, match="not XML"):
        reader.feed(b"<message><body></message>")


def test_a_lost_worker_moves_only_its_own_senders_and_they_come_back() -> None:
    senders = [f"user{n}@example.org" for n in range(2000)]
    three = {s: rendezvous(s, [0, 1, 2]) for s in senders}
    two = {s: rendezvous(s, [0, 2]) for s in senders}
    assert all(two[s] == slot for s, slot in three.items() if slot != 1)
    assert {three[s] for s in senders} == {0, 1, 2}
    shares = [list(three.values()).count(slot) / len(senders) for slot in (0, 1, 2)]
    assert all(0.28 < share < 0.39 for share in shares), shares
    assert {s: rendezvous(s, [0, 1, 2]) for s in senders} == three


def test_without_workers_a_message_or_request_gets_an_error_and_nothing_else_does() -> None:
    reader = StanzaReader()
    reader.feed(HEADER)
    message, presence, iq, _ = reader.feed(b"".join(STANZAS))
    error = bounce(message)
    assert error is not None
    assert error.startswith(
        b'<message type="error" from="accounts.localhost" to="a@x/phone" id="1">'
    )
    assert b"service-unavailable" in error and b"try again in a minute" in error
    iq_error = bounce(iq)
    assert iq_error is not None and b'<iq type="error"' in iq_error
    assert b"id='q\"1'" in iq_error  # the id as it came, quoted again
    assert bounce(presence) is None
    [answered] = reader.feed(b"<iq type='result' from='c@x/r' id='2'/>")
    assert bounce(answered) is None


class Transport(asyncio.Transport):
    """Stands in for a socket: records what the front writes and whether it reads."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.writes = 0
        self.paused = self.closed = self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def connected_worker(front: Front) -> tuple[WorkerLink, Transport]:
    """A worker that passed the XEP-0114 handshake, through the bytes it would send."""
    worker, transport = WorkerLink(front), Transport()
    worker.connection_made(transport)
    worker.data_received(stream_header(to=DOMAIN))
    digest = handshake_digest(worker.stream_id, SECRET)
    worker.data_received(f"<handshake>{digest}</handshake>".encode())
    assert transport.written.endswith(b"<handshake/>")
    return worker, transport


async def test_a_slow_worker_holds_the_servers_stream_a_slow_server_the_workers() -> None:
    front = Front(XmppConfig(jid=DOMAIN, secret=Secret(SECRET)), 0)
    server, server_transport = Upstream(front), Transport()
    server.connection_made(server_transport)
    server.data_received(HEADER + b"<handshake/>")
    assert front.upstream is server
    worker, worker_transport = connected_worker(front)
    worker.pause_writing()
    assert server_transport.paused and not worker_transport.paused
    worker.resume_writing()
    assert not server_transport.paused
    server.pause_writing()
    assert worker_transport.paused
    server.resume_writing()
    assert not worker_transport.paused
    worker.pause_writing()
    worker.connection_lost(None)  # a lost worker holds nothing
    assert not server_transport.paused and front.workers == {}


@pytest.mark.parametrize(
    ("to", "server_up", "refusal"),
    [("other.localhost", True, b"<host-unknown"), (DOMAIN, False, b"<remote-connection-failed")],
)
async def test_a_worker_for_another_domain_or_before_the_server_is_refused(
    to: str, server_up: bool, refusal: bytes
) -> None:
    front = Front(XmppConfig(jid=DOMAIN, secret=Secret(SECRET)), 0)
    if server_up:
        server = Upstream(front)
        server.connection_made(Transport())
        server.data_received(HEADER + b"<handshake/>")
    worker, transport = WorkerLink(front), Transport()
    worker.connection_made(transport)
    worker.data_received(stream_header(to=to))
    assert refusal in transport.written and transport.closed
    assert transport.written.endswith(b"</stream:stream>") and front.workers == {}


async def test_what_one_read_brings_for_a_worker_leaves_in_one_write_unchanged() -> None:
    front = Front(XmppConfig(jid=DOMAIN, secret=Secret(SECRET)), 0)
    server, server_transport = Upstream(front), Transport()
    server.connection_made(server_transport)
    server.data_received(HEADER + b"<handshake/>")
    worker, transport = connected_worker(front)
    before = transport.writes
    server.data_received(STANZAS[0] + b" " + STANZAS[0] + STANZAS[3])
    assert transport.writes == before + 1
    assert transport.written.endswith(STANZAS[0] + STANZAS[0] + STANZAS[3])
    reply = b"<message from='accounts.localhost' to='a@x/phone'><body>ok</body></message>"
    sent_before = server_transport.writes
    worker.data_received(reply * 3)
    assert server_transport.writes == sent_before + 1
    assert server_transport.written.endswith(reply * 3)


async def test_a_worker_that_reads_nothing_for_long_is_dropped_and_its_users_move() -> None:
    front = Front(XmppConfig(jid=DOMAIN, secret=Secret(SECRET)), 0)
    front.stall_seconds = 0.05
    server, server_transport = Upstream(front), Transport()
    server.connection_made(server_transport)
    server.data_received(HEADER + b"<handshake/>")
    slow, slow_transport = connected_worker(front)
    other, other_transport = connected_worker(front)
    other.pause_writing()
    other.resume_writing()  # caught up in time: kept
    slow.pause_writing()
    assert server_transport.paused

    async def aborted() -> bool:
        return slow_transport.aborted

    await eventually(aborted, "the stalled worker was dropped")
    slow.connection_lost(None)  # what the loop reports after an abort
    assert not server_transport.paused and list(front.workers.values()) == [other]
    assert not other_transport.aborted  # its stall timer, started first, was cancelled


async def test_requests_never_answered_are_forgotten_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(front_module, "MAX_ASKED", 3)
    front = Front(XmppConfig(jid=DOMAIN, secret=Secret(SECRET)), 0)
    server = Upstream(front)
    server.connection_made(Transport())
    server.data_received(HEADER + b"<handshake/>")
    worker, _ = connected_worker(front)
    for n in range(5):
        worker.data_received(f"<iq type='get' id='q{n}' to='x'><ping/></iq>".encode())
    worker.data_received(b"<iq type='result' id='q9' to='x'/>")  # an answer: nothing to wait for
    assert list(front.asked) == ["q2", "q3", "q4"]


async def test_only_the_last_worker_to_stop_tells_users_the_bot_is_unavailable() -> None:
    front = Front(XmppConfig(jid=DOMAIN, secret=Secret(SECRET)), 0)
    server, server_transport = Upstream(front), Transport()
    server.connection_made(server_transport)
    server.data_received(HEADER + b"<handshake/>")
    first, _ = connected_worker(front)
    second, _ = connected_worker(front)
    gone = f"<presence type='unavailable' from='{DOMAIN}' to='a@x'/>".encode()
    available = f"<presence from='{DOMAIN}' to='a@x'/>".encode()
    first.data_received(available + gone)
    assert server_transport.written.endswith(available)  # the second still serves
    second.data_received(gone)
    assert server_transport.written.endswith(available + gone)  # the last one stops

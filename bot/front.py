"""The front: one XEP-0114 connection to the XMPP server, shared by several bot processes.

Prosody takes one connection per component and refuses a second (``kick_new``),
so N bot processes behind one address need a process that owns that
connection. The front is a XEP-0114 client towards the server and a XEP-0114
server (same domain, same secret) for the workers on loopback; each worker is
the unchanged bot in component mode (``accountbot bot --front PORT``).

It never builds a stanza tree: expat finds where each top-level element ends
(its byte offsets), the front reads the ``from`` attribute only, and the
bytes go on unchanged. A stanza goes to the worker picked by rendezvous
hashing of the sender's bare JID over the live workers, so one user's
messages and ad-hoc sessions stay in order on one worker, and when a worker
dies only its users move (to the others), and back when it returns. The
answer to a request a worker sent (an IQ result or error) goes back to that
worker, whoever it comes from.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import signal
from dataclasses import dataclass
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from payments.config import XmppConfig

log = logging.getLogger(__name__)

STREAM_NS = "http://etherx.jabber.org/streams"
ACCEPT_NS = "jabber:component:accept"
STANZA_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
STREAM_END = b"</stream:stream>"
MAX_BACKOFF = 30.0
# Where a tag read from its "<" ends: the first ">" outside a quoted attribute value.
TAG_END = re.compile(rb"""(?:[^'">]|"[^"]*"|'[^']*')*>""")
HANDSHAKE_VALUE = re.compile(rb"<handshake[^>]*>\s*([0-9a-fA-F]*)\s*</handshake>")
BUSY_TEXT = "The account bot is restarting: please try again in a minute."
STALL_SECONDS = 10.0  # a worker that reads nothing this long is dropped: its users move
MAX_ASKED = 10_000  # requests of workers waiting for their answers (the oldest forgotten)
REQUEST, ANSWER = ("get", "set"), ("result", "error")


class StreamError(Exception):
    """The peer broke the XEP-0114 protocol (bad XML, a wrong domain or secret)."""


@dataclass(frozen=True)
class Stanza:
    """One top-level element of a stream: its name, its attributes, its bytes."""

    name: str
    attrs: dict[str, str]
    raw: bytes

    @property
    def sender(self) -> str:
        """The bare JID it comes from ("" if it names none)."""
        return self.attrs.get("from", "").partition("/")[0]


class StanzaReader:
    """Splits the bytes of a stream into its header and its top-level elements."""

    def __init__(self) -> None:
        self.header: dict[str, str] | None = None
        self.ended = False
        self._parser = expat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._buffer = bytearray()
        self._base = 0  # stream offset of _buffer[0]
        self._depth = 0
        self._opened: tuple[int, str, dict[str, str]] = (0, "", {})
        self._ready: list[Stanza] = []

    def feed(self, data: bytes) -> list[Stanza]:
        """The elements ``data`` completes (bad XML raises ``StreamError``)."""
        self._buffer += data
        try:
            self._parser.Parse(data, False)
        except expat.ExpatError as exc:
            raise StreamError(f"not XML: {exc}") from exc
        if self._depth <= 1:
            self._drop_read()
        ready, self._ready = self._ready, []
        return ready

    def _drop_read(self) -> None:
        """Between stanzas only a tag that began and did not end is worth keeping
        (whitespace keepalives would pile up otherwise)."""
        opened = self._buffer.rfind(b"<")
        unfinished = opened >= 0 and TAG_END.match(self._buffer, opened) is None
        keep = opened if unfinished else len(self._buffer)
        del self._buffer[:keep]
        self._base += keep

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 1:
            self.header = attrs
        elif self._depth == 2:
            self._opened = (self._parser.CurrentByteIndex, name, attrs)

    def _end(self, _name: str) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.ended = True
        elif self._depth == 1:
            self._ready.append(self._take())

    def _take(self) -> Stanza:
        start, name, attrs = self._opened
        end = self._end_of(start - self._base, self._parser.CurrentByteIndex - self._base)
        raw = bytes(self._buffer[start - self._base : end])
        del self._buffer[:end]
        self._base += end
        return Stanza(name, attrs, raw)

    def _end_of(self, start: int, end_event: int) -> int:
        """Where the element ends. Expat puts the end event of ``<a/>`` after the tag but
        that of ``<a>..</a>`` on its ``</a>``: a start tag ending in ``/>`` is all there is.
        Expat has reported the tag, so its bytes are all in the buffer."""
        opening = TAG_END.match(self._buffer, start)
        assert opening is not None
        if self._buffer[opening.end() - 2] == ord("/"):
            return opening.end()
        closing = TAG_END.match(self._buffer, end_event)
        assert closing is not None
        return closing.end()


def stream_header(**attrs: str) -> bytes:
    pairs = "".join(f" {key}={quoteattr(value)}" for key, value in attrs.items())
    return f"<stream:stream xmlns='{ACCEPT_NS}' xmlns:stream='{STREAM_NS}'{pairs}>".encode()


def handshake_digest(stream_id: str, secret: str) -> str:
    """XEP-0114 section 3: hex SHA-1 of the stream id followed by the secret."""
    return hashlib.sha1((stream_id + secret).encode(), usedforsecurity=False).hexdigest()


def stream_error(condition: str) -> bytes:
    streams = "urn:ietf:params:xml:ns:xmpp-streams"
    return f"<stream:error><{condition} xmlns='{streams}'/></stream:error>".encode() + STREAM_END


def bounce(stanza: Stanza) -> bytes | None:
    """The error a message or request gets while no worker is there (as the server's own
    bounce when the component is down); None for what needs no answer."""
    if stanza.name not in ("message", "iq") or stanza.attrs.get("type") in ("error", "result"):
        return None
    attrs = {
        "type": "error",
        "from": stanza.attrs.get("to", ""),
        "to": stanza.attrs.get("from", ""),
    }
    if "id" in stanza.attrs:
        attrs["id"] = stanza.attrs["id"]
    pairs = "".join(f" {key}={quoteattr(value)}" for key, value in attrs.items())
    error = (
        f"<error type='wait'><service-unavailable xmlns='{STANZA_ERRORS_NS}'/>"
        f"<text xmlns='{STANZA_ERRORS_NS}'>{escape(BUSY_TEXT)}</text></error>"
    )
    return f"<{stanza.name}{pairs}>{error}</{stanza.name}>".encode()


def rendezvous(sender: str, slots: list[int]) -> int:
    """The slot whose hash with ``sender`` is highest: only a lost slot's senders move."""

    def weight(slot: int) -> bytes:
        return hashlib.blake2b(f"{slot}/{sender}".encode(), digest_size=8).digest()

    return max(slots, key=weight)


class StreamLink(asyncio.Protocol):
    """One XEP-0114 connection: bytes in, stanzas out to ``on_stanza``."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.reader = StanzaReader()
        self.transport: asyncio.Transport | None = None
        self.ready = False  # the handshake succeeded
        self.behind = False  # its peer reads slower than we write (asyncio's flow control)
        self.outgoing: list[bytes] = []  # routed here while reading: written after the read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            for stanza in self.reader.feed(data):
                self.on_stanza(stanza)
            self.front.write_routed()
            if self.reader.ended:
                self.close()
        except StreamError as exc:
            log.warning("%s: %s", self, exc)
            self.close(stream_error("not-well-formed"))

    def on_stanza(self, stanza: Stanza) -> None:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def route(self, data: bytes) -> None:
        """Stanzas routed here while one read is handled leave in one write after it."""
        if not self.outgoing:
            self.front.routed.append(self)
        self.outgoing.append(data)

    def write_routed(self) -> None:
        if self.outgoing:
            data = b"".join(self.outgoing)
            self.outgoing.clear()
            self.send(data)

    def close(self, last: bytes = STREAM_END) -> None:
        self.write_routed()
        self.send(last)
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        self.behind = True
        self.front.regulate()

    def resume_writing(self) -> None:
        self.behind = False
        self.front.regulate()

    def reading(self, on: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            (self.transport.resume_reading if on else self.transport.pause_reading)()


class Upstream(StreamLink):
    """The front's one connection to the XMPP server, as the component."""

    def __init__(self, front: Front) -> None:
        super().__init__(front)
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __str__(self) -> str:
        return "server"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.send(stream_header(to=self.front.domain))

    def data_received(self, data: bytes) -> None:
        had_header = self.reader.header is not None
        super().data_received(data)
        if not had_header and self.reader.header is not None:
            digest = handshake_digest(self.reader.header.get("id", ""), self.front.secret)
            self.send(f"<handshake>{digest}</handshake>".encode())

    def on_stanza(self, stanza: Stanza) -> None:
        if self.ready:
            self.front.to_worker(stanza)
        elif stanza.name == "handshake":
            self.ready = True
            self.front.upstream_ready(self)
        else:
            log.error("the server refused the front: %s", stanza.raw.decode(errors="replace"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self.ready:
            self.front.upstream_lost()


class WorkerLink(StreamLink):
    """A worker bot's connection to the front, which plays the server's part of XEP-0114."""

    def __init__(self, front: Front) -> None:
        super().__init__(front)
        self.slot = -1
        self.stream_id = secrets.token_hex(8)
        self.leaving = False  # it said ``unavailable``: it is stopping
        self._stall: asyncio.TimerHandle | None = None

    def __str__(self) -> str:
        return f"worker {self.slot}" if self.slot >= 0 else "a worker"

    def data_received(self, data: bytes) -> None:
        had_header = self.reader.header is not None
        super().data_received(data)
        if not had_header and self.reader.header is not None:
            self._answer_header(self.reader.header)

    def _answer_header(self, header: dict[str, str]) -> None:
        self.send(stream_header(id=self.stream_id, **{"from": self.front.domain}))
        if header.get("to") != self.front.domain:
            self.close(stream_error("host-unknown"))
        elif not self.front.upstream_is_ready():
            self.close(stream_error("remote-connection-failed"))

    def on_stanza(self, stanza: Stanza) -> None:
        if self.ready:
            self.front.from_worker(self, stanza)
        elif self._handshake_valid(stanza):
            self.ready = True
            self.send(b"<handshake/>")
            self.front.worker_ready(self)
        else:
            self.close(stream_error("not-authorized"))

    def _handshake_valid(self, stanza: Stanza) -> bool:
        found = HANDSHAKE_VALUE.fullmatch(stanza.raw)
        expected = handshake_digest(self.stream_id, self.front.secret).encode()
        return found is not None and hmac.compare_digest(found.group(1).lower(), expected)

    def pause_writing(self) -> None:
        super().pause_writing()
        loop = asyncio.get_running_loop()
        self._stall = loop.call_later(self.front.stall_seconds, self._stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
        super().resume_writing()

    def _stalled(self) -> None:
        """It holds everyone's stream (``Front.regulate``): better its users elsewhere."""
        log.warning("%s read nothing for %g s: dropped", self, self.front.stall_seconds)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stall is not None:
            self._stall.cancel()
        if self.ready:
            self.front.worker_lost(self)


class Front:
    """Owns the server connection and the workers; routes stanzas between them."""

    def __init__(self, config: XmppConfig, listen_port: int, listen_host: str = "127.0.0.1"):
        self.config = config
        self.domain = config.jid
        self.secret = config.secret.reveal()
        self.listen_host, self.listen_port = listen_host, listen_port
        self.upstream: Upstream | None = None
        self.workers: dict[int, WorkerLink] = {}
        self.routed: list[StreamLink] = []  # links with stanzas waiting for the read's end
        self.stall_seconds = STALL_SECONDS
        self.asked: dict[str, WorkerLink] = {}  # id of a worker's request: who waits for it
        self._backoff = 1.0

    async def run(self, stop: asyncio.Event) -> None:
        """Serve workers and keep the server connection until ``stop`` is set."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: WorkerLink(self), self.listen_host, self.listen_port
        )
        log.info("listening for workers on %s:%d", self.listen_host, self.listen_port)
        keeper = asyncio.create_task(self._keep_upstream(), name="upstream")
        try:
            await stop.wait()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            server.close()
            self._close_all()
            await server.wait_closed()

    async def _keep_upstream(self) -> None:
        """Connect, and connect again after a loss, with a back-off of 1 s doubling."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                _transport, link = await loop.create_connection(
                    lambda: Upstream(self), self.config.host, self.config.port
                )
                await link.lost
            except OSError as exc:
                log.warning("connection to the server failed: %s", exc)
            await asyncio.sleep(self._backoff)
            self._backoff = min(MAX_BACKOFF, self._backoff * 2)

    def upstream_is_ready(self) -> bool:
        return self.upstream is not None

    def upstream_ready(self, link: Upstream) -> None:
        self.upstream, self._backoff = link, 1.0
        log.info("connected to the server as %s", self.domain)
        self.regulate()

    def upstream_lost(self) -> None:
        """Workers reconnect (with their own back-off) once the server is back."""
        log.warning("disconnected from the server: closing the workers' streams")
        self.upstream = None
        self._close_all()

    def worker_ready(self, link: WorkerLink) -> None:
        link.slot = min(set(range(len(self.workers) + 1)) - set(self.workers))
        self.workers[link.slot] = link
        log.info("worker %d connected (%d live)", link.slot, len(self.workers))
        self.regulate()

    def worker_lost(self, link: WorkerLink) -> None:
        if self.workers.get(link.slot) is link:
            del self.workers[link.slot]
        log.warning("worker %d lost: its senders go to the %d live", link.slot, len(self.workers))
        self.regulate()

    def regulate(self) -> None:
        """Back-pressure instead of memory: while a worker reads slower than stanzas come,
        the server's stream (everyone's) waits; while the server does, the workers' do."""
        workers = list(self.workers.values())
        server_behind = self.upstream is not None and self.upstream.behind
        if self.upstream is not None:
            self.upstream.reading(not any(worker.behind for worker in workers))
        for worker in workers:
            worker.reading(not server_behind)

    def from_worker(self, link: WorkerLink, stanza: Stanza) -> None:
        kind = stanza.attrs.get("type")
        if stanza.name == "iq" and kind in REQUEST:
            if len(self.asked) >= MAX_ASKED:
                del self.asked[next(iter(self.asked))]
            self.asked[stanza.attrs.get("id", "")] = link
        elif stanza.name == "presence" and kind == "unavailable" and self._others_stay(link):
            return
        self.to_server(stanza.raw)

    def _others_stay(self, link: WorkerLink) -> bool:
        """A worker that stops says ``unavailable`` to every subscriber (bot/presence.py):
        only the last one's is true of the bot."""
        link.leaving = True
        return any(not worker.leaving for worker in self.workers.values())

    def to_worker(self, stanza: Stanza) -> None:
        if (worker := self._worker_for(stanza)) is not None:
            worker.route(stanza.raw)
        elif (error := bounce(stanza)) is not None:
            self.to_server(error)

    def _worker_for(self, stanza: Stanza) -> WorkerLink | None:
        """The worker that asked, for an answer (a keepalive ping's answer comes from the
        server, not from a user); else the sender's worker."""
        if stanza.name == "iq" and stanza.attrs.get("type") in ANSWER:
            asker = self.asked.pop(stanza.attrs.get("id", ""), None)
            if asker is not None and self.workers.get(asker.slot) is asker:
                return asker
        if not self.workers:
            return None
        return self.workers[rendezvous(stanza.sender, list(self.workers))]

    def to_server(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.route(data)

    def write_routed(self) -> None:
        """One write per link for what one read brought, instead of one per stanza."""
        for link in self.routed:
            link.write_routed()
        self.routed.clear()

    def _close_all(self) -> None:
        for link in list(self.workers.values()):
            link.close()
        self.workers.clear()
        if self.upstream is not None:
            self.upstream.close()


async def run_front(
    config: XmppConfig, listen_port: int, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then close every stream."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await Front(config, listen_port).run(stop)

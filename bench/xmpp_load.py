"""A load client for the bot bench: plain c2s sessions over raw sockets.

A slixmpp client costs as much CPU per message as the component it drives,
so on a shared two-core machine it would measure itself. This one logs in
(SASL PLAIN without TLS: loopback only), sends message stanzas and counts
the messages that come back with a byte search: a few microseconds each.
Replies do not keep the id of the message they answer (slixmpp's ``reply``
makes a new one), so each reply on a session answers its oldest message
still waiting. Each lane keeps one message in flight (send, wait for a
reply, send the next); ``in_flight`` lanes are spread over the sessions.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

NS_CLIENT = "jabber:client"
STREAM = (
    "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xml:lang='en' "
    f"xmlns='{NS_CLIENT}' xmlns:stream='http://etherx.jabber.org/streams'>"
)
MESSAGE_END = b"</message>"


@dataclass(frozen=True)
class Result:
    replies: int
    seconds: float
    latencies: Sequence[float]  # seconds, one per reply

    @property
    def per_second(self) -> float:
        return self.replies / self.seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


@dataclass
class Session:
    """One logged-in user: a reader task hands each reply to the oldest lane waiting."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    waiting: deque[asyncio.Future[float]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        buffer = b""
        while chunk := await self.reader.read(65536):
            buffer += chunk
            end = buffer.rfind(MESSAGE_END)
            if end < 0:
                continue
            done, buffer = buffer[: end + len(MESSAGE_END)], buffer[end + len(MESSAGE_END) :]
            arrived = time.perf_counter()
            for _ in range(min(done.count(MESSAGE_END), len(self.waiting))):
                self.waiting.popleft().set_result(arrived)

    async def ask(self, to: str, stanza_id: str, body: str) -> float:
        """Send one chat message; the seconds until its reply arrived."""
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        sent = time.perf_counter()
        self.writer.write(
            f"<message to='{to}' type='chat' id='{stanza_id}'><body>{body}</body></message>"
            .encode()
        )  # fmt: skip
        return await waiter - sent

    async def close(self) -> None:
        self.writer.write(b"</stream:stream>")
        self.writer.close()
        if self.task is not None:
            self.task.cancel()


async def login(host: str, port: int, jid: str, password: str) -> Session:
    user, domain = jid.split("@")
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(STREAM.format(domain=domain).encode())
    await _until(reader, b"</stream:features>")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    writer.write(
        f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode()
    )
    if b"<success" not in await _until(reader, b"<success", b"<failure"):
        raise PermissionError(f"login refused for {jid}")
    writer.write(STREAM.format(domain=domain).encode())
    await _until(reader, b"</stream:features>")
    writer.write(
        b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        b"<resource>load</resource></bind></iq><presence/>"
    )
    await _until(reader, b"</iq>")
    session = Session(reader, writer)
    session.start()
    return session


async def _until(reader: asyncio.StreamReader, *ends: bytes) -> bytes:
    seen = b""
    while not any(end in seen for end in ends):
        chunk = await asyncio.wait_for(reader.read(65536), 10)
        if not chunk:
            raise ConnectionError(f"stream closed before {ends!r}: {seen[-300:]!r}")
        seen += chunk
    return seen


async def drive(
    sessions: Sequence[Session], to: str, body: str, *, total: int, in_flight: int
) -> Result:
    """``total`` messages to ``to`` over ``in_flight`` lanes; each reply timed."""
    counter = iter(range(total))
    latencies: list[float] = []

    async def lane(number: int) -> None:
        session = sessions[number % len(sessions)]
        for i in counter:
            latencies.append(await asyncio.wait_for(session.ask(to, f"m{i}", body), 30))

    started = time.perf_counter()
    await asyncio.gather(*(lane(n) for n in range(in_flight)))
    return Result(len(latencies), time.perf_counter() - started, latencies)

"""The year of billing again, with every notification delivered by the real bot
through the real Prosody to a real client logged in as Alice.

The scenario is tests/billing/test_billing_year.py's; only where the notifications
are read changes: from what Alice's client received instead of the outbox.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from accountbot.stack import Stack
from payments.stores import Store
from tests.billing.test_billing_year import ALICE, World, walk_a_year
from tests.support.bots import outbox_drained, running_bot
from tests.support.clients import UserClient, is_notification, logged_in
from tests.support.waits import eventually


class AliceOnline:
    """Alice's XMPP client, in a thread of its own for the whole (synchronous) scenario."""

    def __init__(self, stack: Stack, password: str) -> None:
        self.stack = stack
        self.password = password
        self.received: list[tuple[str, str]] = []  # (kind, body) of each notification
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.runner = asyncio.Runner()  # closing it cancels what the client left running
        self.stopping = asyncio.Event()
        self.answers: asyncio.Queue[str] = asyncio.Queue()  # the bot's replies to probes
        self.client: UserClient | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        with self.runner:
            self.runner.run(self._run())

    async def _run(self) -> None:
        port = self.stack.xmpp.c2s_port
        async with logged_in(ALICE, self.password, "127.0.0.1", port) as client:
            self.client = client
            reader = asyncio.create_task(self._read(client))
            self.ready.set()
            await self.stopping.wait()
            reader.cancel()

    async def _read(self, client: UserClient) -> None:
        while True:
            msg = await client.inbox.get()
            if not is_notification(msg):
                self.answers.put_nowait(str(msg["body"]))
                continue
            with self.lock:
                self.received.append((str(msg["id"]).split(".")[0], str(msg["body"])))

    def probe(self) -> None:
        """Return once the bot answers a message sent now: all it sent before has arrived,
        since its messages to Alice travel one stream through Prosody in order."""

        async def ask() -> None:
            assert self.client is not None
            self.client.say(self.stack.bot_jid, "help")
            await asyncio.wait_for(self.answers.get(), 15)

        asyncio.run_coroutine_threadsafe(ask(), self.runner.get_loop()).result(20)

    def __enter__(self) -> AliceOnline:
        self.thread.start()
        assert self.ready.wait(20), "Alice could not log in"
        return self

    def __exit__(self, *exc: object) -> None:
        self.runner.get_loop().call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


class DeliveredWorld(World):
    alice: AliceOnline

    def notifications(self) -> list[tuple[str, str]]:
        """What reached Alice's client, once the bot has sent all it was given."""
        self.run(lambda s: eventually(outbox_drained(s), "the bot sent every notice", 30))
        self.alice.probe()
        with self.alice.lock:
            return list(self.alice.received)


@pytest.fixture
def alice_password(stack: Stack) -> str:
    stack.xmpp.deluser("alice")
    return stack.xmpp.adduser("alice")[1]


@pytest.fixture
def delivered_world(
    stack: Stack, capsys: pytest.CaptureFixture[str], alice_password: str
) -> Iterator[DeliveredWorld]:
    world = DeliveredWorld(stack, capsys)

    async def flush(store: Store) -> None:
        await store.redis.flushdb()

    world.run(flush)
    with running_bot(stack, stack.config_path), AliceOnline(stack, alice_password) as alice:
        world.alice = alice
        yield world


def test_a_year_of_billing_reaches_alices_client(delivered_world: DeliveredWorld) -> None:
    walk_a_year(delivered_world)
    assert delivered_world.run(lambda s: s.outbox.backlog()) == 0
    bodies = [body for _kind, body in delivered_world.notifications()]
    assert any("Payment" in b or "paid" in b for b in bodies)
    assert all(b.strip() and b.count("\n") < 12 for b in bodies)

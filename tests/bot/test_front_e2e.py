"""Several bot processes behind one component address: the front (``accountbot front``)
and two workers (``accountbot bot --front PORT``) on a real Prosody, with real slixmpp
clients. Every message is answered once, each sender by one worker; a worker that dies
leaves its senders to the other; an ad-hoc session continues where it started; with no
worker at all, senders get an error."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import slixmpp

from accountbot.stack import Child, Stack
from payments import keys
from payments.money import Money
from payments.notices import Notice
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.bots import bot_config
from tests.support.clients import UserClient, enable_adhoc, execute, logged_in, notes
from tests.support.fronts import FRONT_READY, live_workers, running_front, start_worker
from tests.support.servers import started_stack

SENDERS = 8
ROUNDS = 4
NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    """Prosody of its own: the front holds the component connection for the whole test."""
    with started_stack("prosody") as stack:
        yield stack


@asynccontextmanager
async def senders(stack: Stack, count: int) -> AsyncIterator[list[UserClient]]:
    token = secrets.token_hex(3)
    users = [stack.xmpp.adduser(f"front{n}-{token}") for n in range(count)]
    async with AsyncExitStack() as clients:
        yield [
            await clients.enter_async_context(
                logged_in(jid, password, "127.0.0.1", stack.xmpp.c2s_port)
            )
            for jid, password in users
        ]


async def answered_once(client: UserClient, bot: str, rounds: int) -> None:
    """``rounds`` balances answered, and nothing more: the next message answers a probe."""
    for _ in range(rounds):
        client.say(bot, "balance")
    for _ in range(rounds):
        assert (await client.next_message(20))["body"] == NO_ACCOUNT
    client.say(bot, "help")
    assert "help more" in (await client.next_message(20))["body"]


async def everyone_answered(clients: list[UserClient], bot: str, rounds: int) -> None:
    await asyncio.gather(*(answered_once(client, bot, rounds) for client in clients))


def served(worker: Child, after: int = 0) -> dict[str, int]:
    """Requests a worker answered, by sender, from its request log lines."""
    text = worker.log.read_bytes()[max(after, worker.log_offset) :].decode()
    counts: dict[str, int] = {}
    for sender in re.findall(r" chat (\S+): \S+ \S+ in ", text):
        counts[sender] = counts.get(sender, 0) + 1
    return counts


def bare(client: UserClient) -> str:
    return str(client.boundjid.bare)


async def test_two_workers_answer_every_message_once_each_sender_on_one_worker(
    own_stack: Stack, tmp_path: Path
) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    with running_front(own_stack, config, workers=2) as (_front, workers, _port):
        async with senders(own_stack, SENDERS) as clients:
            await everyone_answered(clients, own_stack.bot_jid, ROUNDS)
        shares = [served(worker) for worker in workers]
    for client in clients:
        counts = [share.get(bare(client), 0) for share in shares]
        assert sorted(counts) == [0, ROUNDS + 1], (bare(client), counts)
    assert all(shares), "each worker has senders of its own"


async def test_a_dead_workers_senders_go_to_the_other_and_come_back_with_it(
    own_stack: Stack, tmp_path: Path
) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    with running_front(own_stack, config, workers=2) as (front, workers, port):
        async with senders(own_stack, SENDERS) as clients:
            await everyone_answered(clients, own_stack.bot_jid, 1)
            first = served(workers[0])
            lost_at = front.log_size()
            os.kill(workers[0].pid, signal.SIGKILL)
            assert workers[0].proc is not None and workers[0].proc.wait(10) == -signal.SIGKILL
            front.wait_for("worker 0 lost", after=lost_at)
            survivor_at = workers[1].log_size()
            await everyone_answered(clients, own_stack.bot_jid, 1)
            assert set(served(workers[1], survivor_at)) == {bare(c) for c in clients}
            back_at = front.log_size()
            workers.append(start_worker(own_stack, config, port, 0))
            front.wait_for(live_workers(2), after=back_at)
            await everyone_answered(clients, own_stack.bot_jid, 1)
    assert set(served(workers[2])) == set(first)  # the same senders, back on slot 0


async def test_with_no_worker_left_a_sender_gets_an_error_not_silence(
    own_stack: Stack, tmp_path: Path
) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    with running_front(own_stack, config, workers=1) as (front, workers, _port):
        async with senders(own_stack, 1) as [client]:
            client.add_event_handler("message_error", client.inbox.put_nowait)  # no body
            workers[0].stop()
            front.wait_for("worker 0 lost")
            client.say(own_stack.bot_jid, "balance")
            error = await client.next_message(20)
    assert error["type"] == "error"
    assert error["error"]["condition"] == "service-unavailable"
    assert "try again in a minute" in error["error"]["text"]


async def test_a_worker_with_the_wrong_secret_is_refused(own_stack: Stack, tmp_path: Path) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    with running_front(own_stack, config, workers=0) as (_front, _workers, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"<stream:stream xmlns='jabber:component:accept' "
            b"xmlns:stream='http://etherx.jabber.org/streams' to='%s'>" % own_stack.bot_jid.encode()
        )
        assert b"id=" in await reader.readuntil(b">")
        writer.write(b"<handshake>" + b"0" * 40 + b"</handshake>")
        answer = await asyncio.wait_for(reader.read(), 10)  # until the front closes
        writer.close()
    assert b"<not-authorized" in answer and answer.endswith(b"</stream:stream>")


async def test_after_the_server_restarts_the_front_and_its_workers_answer_again(
    tmp_path: Path,
) -> None:
    with started_stack("prosody") as stack:
        config = bot_config(stack, tmp_path, "component")
        with running_front(stack, config, workers=2) as (front, workers, _port):
            async with senders(stack, 2) as clients:
                await everyone_answered(clients, stack.bot_jid, 1)
            before = front.log_size()
            assert stack.xmpp.child is not None
            stack.xmpp.child.stop()
            front.wait_for("disconnected from the server", after=before)
            stack.xmpp.start()
            front.wait_for(FRONT_READY, after=before, timeout=30)
            front.wait_for(live_workers(2), after=before, timeout=30)
            async with senders(stack, 2) as clients:
                await everyone_answered(clients, stack.bot_jid, 1)
            assert all(worker.alive() for worker in workers)


async def continue_a_form(client: UserClient, bot: str) -> None:
    """Three requests of one ad-hoc session: it lives in one worker's memory."""
    enable_adhoc(client)
    done = await execute(client, bot, "history", {"month": "March"}, {"month": ""})
    assert done["command"]["status"] == "completed"
    assert "+$5.00" in notes(done)


async def test_ad_hoc_sessions_continue_on_the_worker_that_started_them(
    own_stack: Stack, tmp_path: Path
) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    store = Store(open_redis(own_stack.redis.url))
    try:
        with running_front(own_stack, config, workers=2) as (_front, workers, _port):
            async with senders(own_stack, SENDERS) as clients:
                for client in clients:
                    await store.accounts.register_trial(bare(client), datetime.now(UTC), 30)
                    await store.ledger.credit(bare(client), Money(50_000), reason="test")
                await asyncio.gather(*(continue_a_form(c, own_stack.bot_jid) for c in clients))
            adhoc = [worker.log.read_text()[worker.log_offset :] for worker in workers]
    finally:
        await store.close()
    assert all(" adhoc " in text for text in adhoc), "both workers served sessions"


@asynccontextmanager
async def component_behind(front_port: int, stack: Stack) -> AsyncIterator[slixmpp.ComponentXMPP]:
    """A bare slixmpp component connected to the front, as a worker is."""
    component = slixmpp.ComponentXMPP(
        stack.bot_jid, stack.xmpp.component_secret, "127.0.0.1", front_port
    )
    component.register_plugin("xep_0199")
    started = asyncio.Event()
    component.add_event_handler("session_start", lambda _: started.set())
    component.connect()
    try:
        await asyncio.wait_for(started.wait(), 15)
        yield component
    finally:
        component.disconnect()
        await asyncio.wait_for(component.disconnected, 5)


async def test_each_worker_gets_the_answers_to_its_own_requests(
    own_stack: Stack, tmp_path: Path
) -> None:
    """The keepalive: a component pings its own domain. Routed by sender, every answer
    would reach one worker and the others would reconnect after each ping's timeout."""
    config = bot_config(own_stack, tmp_path, "component")
    with running_front(own_stack, config, workers=0) as (front, _workers, port):
        async with component_behind(port, own_stack) as first:
            front.wait_for(live_workers(1))
            async with component_behind(port, own_stack) as second:
                front.wait_for(live_workers(2))
                for component in (first, second, second, first):
                    await component.plugin["xep_0199"].ping(
                        slixmpp.JID(own_stack.bot_jid), ifrom=component.boundjid, timeout=10
                    )


async def test_workers_drain_the_outbox_each_as_its_own_consumer_each_notice_once(
    own_stack: Stack, tmp_path: Path
) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    store = Store(open_redis(own_stack.redis.url))
    token = secrets.token_hex(4)
    try:
        with running_front(own_stack, config, workers=2) as (_front, _workers, _port):
            async with senders(own_stack, 4) as clients:
                for client in clients:
                    key = f"{token}-{bare(client)}"  # a key is queued once, whoever it is for
                    note = Notice(bare(client), "test", f"Renewal done {token}", key=key)
                    assert await store.outbox.notify(note)
                for client in clients:
                    assert (await client.next_message(20))["body"] == f"Renewal done {token}"
                await everyone_answered(clients, own_stack.bot_jid, 0)  # nothing came twice
            group = await store.redis.xinfo_consumers(keys.OUTBOX, keys.OUTBOX_GROUP)
    finally:
        await store.close()
    names = {str(consumer["name"]) for consumer in group}
    assert names == {f"bot-{socket.gethostname()}-w0", f"bot-{socket.gethostname()}-w1"}

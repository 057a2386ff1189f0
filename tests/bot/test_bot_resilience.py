"""The bot survives what production does to it: a server restart (Prosody and ejabberd),
its own restart."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from accountbot.stack import Stack
from accountbot.xmpp_servers import SERVERS
from payments.notices import Notice
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.bots import bot_config, log_size, outbox_drained, running_bot, wait_for_log
from tests.support.clients import UserClient, logged_in
from tests.support.scrape import scrape
from tests.support.servers import started_stack
from tests.support.waits import eventually


@pytest.fixture(params=SERVERS)
def own_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A stack of its own on each server: these tests stop and start its servers."""
    with started_stack(request.param) as stack:
        yield stack


async def ask_until_answered(client: UserClient, bot: str, deadline: float) -> str:
    while time.monotonic() < deadline:
        client.say(bot, "help")
        try:
            reply = await client.next_message(2)
        except TimeoutError:
            continue
        if reply["type"] == "chat":
            return str(reply["body"])
    raise AssertionError("the bot did not answer in time")


async def test_bot_reconnects_after_its_server_restarts(own_stack: Stack, tmp_path: Path) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    jid, password = own_stack.xmpp.adduser("alice")
    port = own_stack.xmpp.c2s_port
    with running_bot(own_stack, config) as bot:
        async with logged_in(jid, password, "127.0.0.1", port) as client:
            assert "help more" in await ask_until_answered(
                client, own_stack.bot_jid, time.monotonic() + 10
            )
        before = log_size(bot)
        assert own_stack.xmpp.child is not None
        own_stack.xmpp.child.stop()
        wait_for_log(bot, "disconnected", after=before, timeout=10)
        # Its first retry (after a 1 s back-off) finds the port closed.
        wait_for_log(bot, "connection failed", after=before, timeout=10)
        own_stack.xmpp.start()
        restarted = time.monotonic()
        async with logged_in(jid, password, "127.0.0.1", port) as client:
            answer = await ask_until_answered(client, own_stack.bot_jid, restarted + 30)
        assert "help more" in answer
        assert bot.alive()
        metrics = await scrape(own_stack.bot_metrics_url)
        assert metrics[("accountbot_bot_reconnects_total", ())] == 1
        assert metrics[("accountbot_bot_connected", ())] == 1


async def test_notification_queued_while_bot_is_down_arrives_once(
    own_stack: Stack, tmp_path: Path
) -> None:
    config = bot_config(own_stack, tmp_path, "component")
    jid, password = own_stack.xmpp.adduser("bob")
    store = Store(open_redis(own_stack.redis.url))
    token = secrets.token_hex(6)
    try:
        with running_bot(own_stack, config):
            pass  # the bot ran once (its consumer group exists) and is stopped again
        async with logged_in(jid, password, "127.0.0.1", own_stack.xmpp.c2s_port) as client:
            queued = await store.outbox.notify(
                Notice(jid, "test", f"Renewal done {token}", key=f"t-{token}")
            )
            again = await store.outbox.notify(
                Notice(jid, "test", f"Renewal done {token}", key=f"t-{token}")
            )
            assert queued and not again  # the same key is queued once
            with running_bot(own_stack, config):
                message = await client.next_message(20)
                assert message["body"] == f"Renewal done {token}"
                assert str(message["from"]) == own_stack.bot_jid
                await eventually(outbox_drained(store), "the outbox drained")
                # Not a second time: the answer to a probe sent now is the next message.
                client.say(own_stack.bot_jid, "help")
                assert "help more" in (await client.next_message(10))["body"]
    finally:
        await store.close()

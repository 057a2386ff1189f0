"""The bot in a user's roster: subscribed both ways and shown available, through
Prosody and ejabberd, with the bot as a component and as a client account.

Each test runs a bot of its own: it stops and starts it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import slixmpp

from accountbot.stack import Stack
from bot.presence import STATUS
from payments import keys
from payments.store.connection import open_redis
from tests.support.bots import running_bot
from tests.support.real_clients import RecordingClient, recording
from tests.support.servers import MODES, Bot, bot_of
from tests.support.waits import eventually


@pytest.fixture(params=MODES)
def bot(server_stack: Stack, tmp_path: Path, request: pytest.FixtureRequest) -> Bot:
    """A bot's config (the test runs the bot itself)."""
    return bot_of(server_stack, tmp_path, request.param)


async def presence_of(
    client: RecordingClient, bot: Bot, kind: str = "available", since: int = 0
) -> str:
    """The status of the bot's first presence of ``kind`` after the first ``since``."""
    return str((await client.presence_from(bot.jid, kind, since=since))["status"])


async def subscribe(client: RecordingClient, bot: Bot) -> None:
    """As a client does when a person adds the bot: ask, then approve the bot's request.

    (The bot's approval reaches the user's server; Prosody turns it into a
    roster push, ejabberd also forwards the presence: the roster is what tells.)
    """
    client.send_presence(pto=bot.jid, ptype="subscribe")
    await presence_of(client, bot, "subscribe")
    client.send_presence(pto=bot.jid, ptype="subscribed")


async def roster_item(client: RecordingClient, bot: Bot) -> dict[str, object]:
    roster = await client.get_roster()
    assert roster is not None
    items: dict[slixmpp.JID, dict[str, object]] = roster["roster"]["items"]
    return items[slixmpp.JID(bot.jid)]


def user(stack: Stack) -> tuple[str, str]:
    return stack.xmpp.adduser(f"fan{secrets.token_hex(4)}")


async def test_the_bot_is_available_after_subscribing_and_after_it_reconnects(
    server_stack: Stack, bot: Bot
) -> None:
    jid, password = user(server_stack)
    port = server_stack.xmpp.c2s_port
    with running_bot(server_stack, bot.config):
        async with recording(jid, password, port) as client:
            await subscribe(client, bot)
            assert await presence_of(client, bot) == STATUS
            assert (await roster_item(client, bot))["subscription"] == "both"
            assert client.client_roster[bot.jid].resources  # shown online
        async with recording(jid, password, port) as client:  # a new session: a probe
            assert await presence_of(client, bot) == STATUS
    with running_bot(server_stack, bot.config):  # the bot restarted
        async with recording(jid, password, port) as client:
            assert await presence_of(client, bot) == STATUS


async def test_a_running_user_sees_the_bot_leave_and_come_back(
    server_stack: Stack, bot: Bot
) -> None:
    jid, password = user(server_stack)
    async with recording(jid, password, server_stack.xmpp.c2s_port) as client:
        with running_bot(server_stack, bot.config):
            await subscribe(client, bot)
            assert await presence_of(client, bot) == STATUS
        await presence_of(client, bot, "unavailable")
        stopped = len(client.presences)
        with running_bot(server_stack, bot.config):
            assert await presence_of(client, bot, since=stopped) == STATUS
            assert client.client_roster[bot.jid].resources


async def test_unsubscribing_is_acknowledged_and_forgotten(server_stack: Stack, bot: Bot) -> None:
    jid, password = user(server_stack)
    redis = open_redis(server_stack.redis.url)
    # A component keeps its subscribers itself; a client-mode bot's server does.
    kept = bot.mode == "component"

    async def subscribed() -> bool:
        return bool(await redis.sismember(keys.PRESENCE_SUBSCRIBERS, jid))

    async with recording(jid, password, server_stack.xmpp.c2s_port) as client:
        with running_bot(server_stack, bot.config):
            await subscribe(client, bot)
            await presence_of(client, bot)
            assert await subscribed() is kept
            client.send_presence(pto=bot.jid, ptype="unsubscribe")
            client.send_presence(pto=bot.jid, ptype="unsubscribed")
            assert (await roster_item(client, bot))["subscription"] == "none"
            if kept:
                await eventually(lambda: negate(subscribed), "the bot forgot the subscriber")
    await redis.aclose()


async def negate(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()

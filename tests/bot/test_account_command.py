"""``account``: a personal link to the account page, by chat and by XEP-0050, also as
XEP-0066 out-of-band data; the handler alone, then end to end through a real Prosody."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from accountbot.stack import Stack
from bot.commands import build_registry
from bot.commands.account import COMMANDS, account
from bot.commands.model import USERS, Context, Role
from bot.dispatch import Dispatcher
from bot.xmpp import AccountBot
from payments.config import Config, load_config
from payments.stores import Store
from payments.web.app import build_app
from payments.web.links import read_account_link
from tests.support.clients import enable_adhoc, execute, logged_in, notes
from tests.support.webfakes import LINK_SECRET, bound_socket, make_config, serve

ALICE = "alice@example.org"
OOB = "{jabber:x:oob}"


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


async def test_account_answers_a_personal_link_that_expires(real_store: Store) -> None:
    config = make_config("redis://unused", "https://pay.example")
    now = datetime.now(UTC)
    await real_store.accounts.register_trial(ALICE, now, 30)
    ctx = Context(ALICE, Role.TRIAL, await real_store.accounts.get(ALICE), real_store, config, now)
    reply = await account(ctx, {})
    assert reply.url.startswith("https://pay.example/account/") and reply.url in reply.text
    assert "valid 60 minutes" in reply.text and not reply.error
    link = read_account_link(LINK_SECRET, token_of(reply.url), int(time.time()))
    assert link.jid == ALICE and link.operator == "" and len(link.session) >= 16
    assert abs(link.expires_at - (now.timestamp() + 3600)) < 2
    [command] = COMMANDS
    assert command.access == USERS and command.name == "account"


async def test_a_stranger_is_told_to_register_first(real_store: Store) -> None:
    config = make_config("redis://unused", "https://pay.example")
    dispatcher = Dispatcher(build_registry(), real_store, config)
    reply = await dispatcher.chat("nobody@example.org", "account")
    assert reply is not None and "register" in reply.text and not reply.url


# --- through Prosody ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_bot(config: Config) -> AsyncIterator[AccountBot]:
    store = Store.from_url(config.redis.url, currency=config.billing.currency)
    bot = AccountBot(config.xmpp, Dispatcher(build_registry(), store, config))
    bot.start()
    try:
        await asyncio.wait_for(bot.connected.wait(), 20)
        yield bot
    finally:
        await bot.stop()
        await store.close()


@pytest.fixture
def e2e_config(stack: Stack, tmp_path: Path) -> tuple[Config, socket.socket]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    path = stack.write_config(
        operators=(),
        path=tmp_path / "account.toml",
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        **stack.client_mode_sections(f"pagebot{secrets.token_hex(3)}"),
    )
    return load_config(path, env={}), sock


async def test_account_by_chat_and_by_adhoc_opens_the_page(
    stack: Stack, real_store: Store, e2e_config: tuple[Config, socket.socket]
) -> None:
    config, sock = e2e_config
    jid, password = stack.prosody.adduser(f"pager{secrets.token_hex(3)}")
    await real_store.accounts.register_trial(jid, datetime.now(UTC), 30)
    async with (
        serve(build_app(config), sock),
        running_bot(config) as bot,
        logged_in(jid, password, "127.0.0.1", stack.prosody.c2s_port) as client,
        aiohttp.ClientSession() as http,
    ):
        client.say(bot.jid, "Account")
        reply = await client.next_message(15)
        chat_link = reply.xml.findtext(f"{OOB}x/{OOB}url")  # XEP-0066 out-of-band data
        assert chat_link and chat_link in str(reply["body"])

        enable_adhoc(client)
        # A client-mode bot serves ad-hoc commands on its full JID.
        answer = await execute(client, str(bot.xmpp.boundjid), "account")
        assert answer["command"]["status"] == "completed"
        adhoc_link = answer.xml.findtext(
            "{http://jabber.org/protocol/commands}command/{jabber:x:oob}x/{jabber:x:oob}url"
        )
        assert adhoc_link and adhoc_link in notes(answer) and adhoc_link != chat_link

        for link in (chat_link, adhoc_link):
            async with http.get(link) as response:
                assert response.status == 200
                assert jid in await response.text()

"""End to end on Prosody and ejabberd: `topup 25` in a chat, pay, "Payment received", `balance`.

The bot runs in this process (its real XMPP connection, command dispatcher and
outbox consumer) with the payment commands of ``bot/commands/payments.py``
in its registry, the web service beside it on a real port; the user is a
real slixmpp client and pays with a real HTTP client.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from accountbot.stack import Stack
from bot.commands import all_commands
from bot.commands import payments as payment_commands
from bot.commands.model import Command, Registry
from bot.dispatch import Dispatcher
from bot.outbox import OutboxConsumer
from bot.xmpp import AccountBot
from payments.config import Config, load_config
from payments.money import Money
from payments.stores import Store
from payments.web.app import build_app
from tests.support.clients import UserClient, logged_in
from tests.support.webfakes import bound_socket, read_form, serve

OOB = "{jabber:x:oob}"


def with_payment_commands(commands: list[Command]) -> list[Command]:
    """The bot's commands plus ours, unless the bot's list has them already."""
    names = {c.name for c in commands}
    return [*commands, *(c for c in payment_commands.COMMANDS if c.name not in names)]


@contextlib.asynccontextmanager
async def running_bot(config: Config) -> AsyncIterator[AccountBot]:
    store = Store.from_url(config.redis.url, currency=config.billing.currency)
    registry = Registry(with_payment_commands(all_commands()))
    bot = AccountBot(config.xmpp, Dispatcher(registry, store, config))
    outbox = OutboxConsumer(
        store, bot.send_notification, bot.connected, f"e2e-{secrets.token_hex(3)}"
    )
    bot.start()
    task = asyncio.create_task(outbox.run())
    try:
        await asyncio.wait_for(bot.connected.wait(), 20)
        yield bot
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.stop()
        await store.close()


async def ask(client: UserClient, to: str, text: str) -> str:
    client.say(to, text)
    return str((await client.next_message(15))["body"])


@pytest.fixture
def e2e_config(server_stack: Stack, tmp_path: Path) -> tuple[Config, socket.socket]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    path = server_stack.write_config(
        operators=(),
        path=tmp_path / "e2e.toml",
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        **server_stack.client_mode_sections(f"paybot{secrets.token_hex(3)}"),
    )
    return load_config(path, env={}), sock


async def test_topup_in_chat_then_pay_with_the_test_provider_then_balance(
    server_stack: Stack, server_store: Store, e2e_config: tuple[Config, socket.socket]
) -> None:
    config, sock = e2e_config
    jid, password = server_stack.xmpp.adduser(f"payer{secrets.token_hex(3)}")
    async with (
        serve(build_app(config), sock) as _base,
        running_bot(config) as bot,
        logged_in(jid, password, "127.0.0.1", server_stack.xmpp.c2s_port) as client,
        aiohttp.ClientSession() as http,
    ):
        assert "Welcome" in await ask(client, bot.jid, "register")
        client.say(bot.jid, "topup 25")
        reply = await client.next_message(15)
        link = reply.xml.findtext(f"{OOB}x/{OOB}url")  # XEP-0066 out-of-band data
        assert link and link in str(reply["body"]) and "$25.00" in str(reply["body"])

        async with http.get(link) as response:
            assert response.status == 200
            fields = read_form(await response.text()).defaults()
        assert fields["amount"] == "25.00"
        async with http.post(link, data={**fields, "method": "test"}) as response:
            assert response.status == 200 and "Payment received" in await response.text()

        note = await client.next_message(15)
        assert str(note["body"]) == "Payment received: $25.00. Balance: $25.00."
        assert "$25.00" in await ask(client, bot.jid, "balance")
    assert (await server_store.ledger.balances(jid)).prepaid == Money.whole(25)

"""Saved cards end to end on Prosody and ejabberd: `cards` in a chat gives the link, the card
is typed on Stripe's (fake) page, Stripe's webhook saves it and the bot says so; then
`autotopup` and `card default` in the chat; a renewal the card pays is told by the bot."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from accountbot.stack import Stack
from payments.clock import utcnow
from payments.config import Config, load_config
from payments.stores import Store
from payments.web.app import build_app
from tests.bot.test_topup_e2e import OOB, ask, running_bot
from tests.support.cards import CardSite, paid_due
from tests.support.clients import logged_in
from tests.support.webfakes import STRIPE_KEY, STRIPE_WHSEC, FakeStripe, bound_socket, serve

VISA = "4242424242424242"


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    async with serve(fake.app()) as base:
        fake.base = base
        yield fake


@pytest.fixture
def cards_config(
    server_stack: Stack, tmp_path: Path, stripe: FakeStripe
) -> tuple[Config, socket.socket]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    path = server_stack.write_config(
        operators=(),
        path=tmp_path / "cards.toml",
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        cards={"poll_seconds": 0},
        **{"providers.stripe": {"enabled": True, "api_key": STRIPE_KEY,
                                "webhook_secret": STRIPE_WHSEC, "api_base": stripe.base}},
        **server_stack.client_mode_sections(f"cardbot{secrets.token_hex(3)}"),
    )  # fmt: skip
    stripe.webhook_url = f"http://127.0.0.1:{port}/webhooks/stripe"
    return load_config(path, env={}), sock


async def test_a_card_saved_from_the_chat_link_is_told_and_pays_a_renewal(
    server_stack: Stack,
    server_store: Store,
    stripe: FakeStripe,
    cards_config: tuple[Config, socket.socket],
) -> None:
    config, sock = cards_config
    jid, password = server_stack.xmpp.adduser(f"holder{secrets.token_hex(3)}")
    app = build_app(config)
    async with (
        serve(app, sock) as base,
        running_bot(config) as bot,
        logged_in(jid, password, "127.0.0.1", server_stack.xmpp.c2s_port) as client,
        aiohttp.ClientSession() as http,
    ):
        assert "Welcome" in await ask(client, bot.jid, "register")
        client.say(bot.jid, "cards")
        reply = await client.next_message(15)
        link = reply.xml.findtext(f"{OOB}x/{OOB}url")
        assert link and "No card saved." in str(reply["body"]) and link in str(reply["body"])
        async with http.get(link) as response:  # a preview fetches it: it changes nothing
            assert response.status == 200 and not stripe.sessions
        async with http.post(link, allow_redirects=False) as response:
            assert response.status == 303
            setup_page = response.headers["Location"]
        async with http.post(setup_page, data={"number": VISA, "exp": "11/33"}) as response:
            assert response.status == 200  # back on our /cards/done
        assert set(await stripe.deliver(http)) == {200}
        saved = await client.next_message(15)
        assert str(saved["body"]).startswith("Card visa …4242 (expires 11/33) saved")
        assert "visa …4242, expires 11/33 (default)" in await ask(client, bot.jid, "cards")
        on = await ask(client, bot.jid, "autotopup 20 below 5")
        assert "$20.00 is charged to visa …4242" in on
        assert "is now your default card" in await ask(client, bot.jid, "card default 4242")
        site = CardSite(base, app, server_store, http, stripe)
        now = utcnow().replace(microsecond=0)
        await paid_due(server_store, jid, now)
        await site.chores(now)
        told = [str((await client.next_message(15))["body"]) for _ in range(2)]
        assert any(t.startswith("Card visa …4242 was charged") for t in told), told

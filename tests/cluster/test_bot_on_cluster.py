"""End to end with Redis as a cluster: the real bot (``accountbot bot``) through the real
Prosody, the web service, the chores as ``accountbot chore all --now ...``, and a real
client. Carol registers, tops up through the test provider's webhook (the trial is
activated and its first month charged), renews, runs out of money, is frozen after
the grace, tops up again and is unfrozen."""

from __future__ import annotations

import secrets
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import slixmpp

from accountbot.stack import LocalCluster, Stack
from payments.clock import utcnow
from payments.config import load_config
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from payments.web.app import build_app
from tests.support.bots import running_bot
from tests.support.clients import UserClient, is_notification, logged_in
from tests.support.webfakes import bound_socket, read_form, serve

OOB = "{jabber:x:oob}"


class Chat:
    """Carol's side: replies to what she says, and the notices, kept apart by kind."""

    def __init__(self, client: UserClient, bot: str) -> None:
        self.client, self.bot = client, bot
        self.notices: list[tuple[str, str]] = []  # (kind, body), not yet looked at

    async def say(self, text: str) -> slixmpp.Message:
        self.client.say(self.bot, text)
        while True:
            msg = await self.client.next_message(20)
            if not is_notification(msg):
                return msg
            self.notices.append((str(msg["id"]).split(".")[0], str(msg["body"])))

    async def reply(self, text: str) -> str:
        return str((await self.say(text))["body"])

    async def notice(self, kind: str) -> str:
        """The first notice of ``kind``, whenever it came (the others are kept)."""
        while True:
            for index, (seen, body) in enumerate(self.notices):
                if seen == kind:
                    del self.notices[index]
                    return body
            msg = await self.client.next_message(30)
            if is_notification(msg):
                self.notices.append((str(msg["id"]).split(".")[0], str(msg["body"])))


async def top_up(chat: Chat, amount: str) -> None:
    reply = await chat.say(f"topup {amount}")
    link = reply.xml.findtext(f"{OOB}x/{OOB}url")
    assert link, reply
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as response:
            fields = read_form(await response.text()).defaults()
        async with http.post(link, data={**fields, "method": "test"}) as response:
            assert response.status == 200 and "Payment received" in await response.text()


def chores(config: Path, now: datetime) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "accountbot", "--config", str(config), "chore", "all",
         "--now", now.isoformat()],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
async def test_a_user_lives_a_billing_cycle_with_the_bot_on_a_cluster(
    stack: Stack, redis_cluster: LocalCluster, tmp_path: Path
) -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    config_path = stack.write_config(
        path=tmp_path / "cluster.toml",
        redis={"url": redis_cluster.url},
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    config = load_config(config_path, env={})
    user = f"carol{secrets.token_hex(3)}"
    jid, password = stack.xmpp.adduser(user)
    store = Store(open_redis(redis_cluster.url))
    try:
        await store.redis.flushdb()
        with running_bot(stack, config_path):
            async with (
                serve(build_app(config), sock),
                logged_in(jid, password, "127.0.0.1", stack.xmpp.c2s_port) as carol,
            ):
                chat = Chat(carol, stack.bot_jid)
                assert "Welcome" in await chat.reply("register")
                await top_up(chat, "25")
                assert "Payment received: $25.00" in await chat.notice("payment_received")
                await chat.notice("plan_activated")  # $20 reached: Basic, $10 charged
                assert "$15.00" in await chat.reply("balance")
                activated = utcnow()

                chores(config_path, activated + timedelta(days=32))
                await chat.notice("renewal_done")
                assert "$5.00" in await chat.reply("balance")

                chores(config_path, activated + timedelta(days=63))  # $5 < $10: an invoice
                await chat.notice("renewal_failed")
                chores(config_path, activated + timedelta(days=72))  # the grace is over
                await chat.notice("frozen")
                assert "frozen" in (await chat.reply("balance")).lower()

                await top_up(chat, "10")
                await chat.notice("unfrozen")
                assert "frozen" not in (await chat.reply("balance")).lower()
        assert (await store.ledger.balances(jid)).prepaid == Money.whole(5)
        assert await store.ledger.check(jid) == []
    finally:
        await store.close()

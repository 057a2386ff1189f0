"""The metering story through the operator's commands and ``accountbot chore ... --now``.

A plan with 100 SMS: 100 SMS pass the gateway, the 101st is denied
(``exhausted``) while calls still go through; buying a 1,000-SMS pack
unblocks SMS at once; usage settles into the ledger four times a day; a
year and a day after the purchase the pack no longer counts, and
``expire-credits`` writes what was left to the ledger as expired.
The web service runs on a loopback port with a clock the test moves.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from accountbot.stack import Stack
from bot.commands import credits
from bot.commands.model import Context, role_of
from payments.config import Config, load_config
from payments.ledger.records import EntryKind
from payments.stores import Store
from payments.web.app import build_app
from payments.web.gateway import GATEWAY
from tests.support.billing import paid_account
from tests.support.usage import A, batch, of_kind
from tests.support.webfakes import serve

DAY = datetime(2026, 3, 10, tzinfo=UTC)


def at(hours: float, base: datetime = DAY) -> datetime:
    return base + timedelta(hours=hours)


class World:
    def __init__(self, stack: Stack, store: Store) -> None:
        self.config_path = str(stack.config_path)
        self.config: Config = load_config(self.config_path)
        self.store = store
        self.now = DAY
        self.base = ""
        self.http: aiohttp.ClientSession | None = None

    async def cli(self, *args: str) -> str:
        """``accountbot ARGS`` as operators and systemd run it: its own process."""
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "accountbot", "--config", self.config_path, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, out.decode()
        return out.decode()

    async def chore(self, name: str, when: datetime, *extra: str) -> str:
        return await self.cli("chore", name, "--now", when.isoformat(), *extra)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.gateway.token.reveal()}"}

    async def allowed(self, resource: str) -> tuple[bool, str | None]:
        assert self.http is not None
        params = {"jid": A, "resource": resource}
        async with self.http.get(
            f"{self.base}/api/v1/authorize", params=params, headers=self.headers()
        ) as response:
            body = await response.json()
            return body["allow"], body["reason"]

    async def send(self, count: int, prefix: str) -> None:
        """``count`` SMS, each asked for first, as the gateway does."""
        assert self.http is not None
        for i in range(count):
            assert await self.allowed("sms") == (True, None), f"{prefix}{i}"
            body = batch(A, 1, prefix=f"{prefix}{i}-", at=self.now)
            async with self.http.post(
                f"{self.base}/api/v1/usage", json=body, headers=self.headers()
            ) as response:
                assert response.status == 200

    async def command(self, name: str, **args: Any) -> str:
        account = await self.store.accounts.get(A)
        ctx = Context(A, role_of(account, False), account, self.store, self.config, self.now)
        command = next(c for c in credits.COMMANDS if c.name == name)
        return (await command.handler(ctx, args)).text


@pytest.fixture
async def world(redis_stack: Stack, real_store: Store) -> AsyncIterator[World]:
    world = World(redis_stack, real_store)
    app = build_app(world.config)
    async with serve(app) as base, aiohttp.ClientSession() as http:
        world.base, world.http = base, http
        app[GATEWAY].clock = lambda: world.now
        yield world


async def test_a_month_of_sms_a_pack_and_its_expiry(world: World) -> None:
    out = await world.cli(
        "admin", "plan", "set", "basic", "--price", "10", "--name", "Basic",
        "--allowance", "sms=100", "--allowance", "voice_minutes=300",
    )  # fmt: skip
    assert "(sms 100, voice_minutes 300)" in out
    out = await world.cli(
        "admin", "pack", "set", "sms1000", "--resource", "sms", "--quantity", "1000",
        "--price", "10",
    )  # fmt: skip
    assert "sms1000  v1  1000 sms  $10.00" in out
    await paid_account(world.store, A, DAY - timedelta(days=9), "40")

    # Four slots of a day, 25 SMS in each, settled by the chore after each.
    for slot, hours in enumerate((1, 7, 13, 19)):
        world.now = at(hours)
        await world.send(25, prefix=f"s{slot}-")
        out = await world.chore("settle-usage", at(hours + 5))
        assert "1 settled" in out and "0 ledger_entries" in out, out  # within the allowance
    assert await world.allowed("sms") == (False, "exhausted")  # the 101st
    assert await world.allowed("voice_minutes") == (True, None)
    assert await world.allowed("mms") == (False, "exhausted")  # no MMS in this plan
    assert of_kind(await world.store.ledger.entries(A), EntryKind.USAGE) == []
    counters = await world.store.usage.month(A, "202603")
    assert (counters["used:sms"], counters["settled:sms"]) == ("100", "100")

    # A pack unblocks at once, before any chore runs.
    world.now = at(25)
    reply = await world.command("buy", pack="sms1000")
    assert "Bought sms1000: 1000 sms credits, valid until 2027-03-11" in reply
    assert await world.allowed("sms") == (True, None)
    await world.send(50, prefix="p-")
    # The slot of 00:00 was settled (at 00:00): these wait for the next one.
    out = await world.chore("settle-usage", at(26))
    assert "1 settled_before" in out and "0 ledger_entries" in out, out
    out = await world.chore("settle-usage", at(31))
    assert "1 settled," in out and "0 ledger_entries" in out, out  # taken, written in April
    assert "950 until 2027-03-11" in await world.command("credits")
    april = datetime(2026, 4, 1, tzinfo=UTC)
    out = await world.chore("settle-usage", april + timedelta(minutes=5))
    assert "1 settled," in out and "1 ledger_entries" in out, out
    out = await world.chore("settle-usage", april + timedelta(hours=1))  # nothing left
    assert "settle-usage: 0 due" in out, out
    entries = await world.store.ledger.entries(A)
    assert [e.reason for e in entries[-1:]] == [
        "50 sms credits used in 2026-03 (pack sms1000, valid until 2027-03-11)",
    ]
    assert "950 until 2027-03-11" in await world.command("credits")

    # A year and a day later: a new month's allowance, but the pack is gone.
    world.now = at(25 + 24 * 366)
    assert await world.allowed("sms") == (True, None)
    await world.send(100, prefix="y-")
    assert await world.allowed("sms") == (False, "exhausted")
    dry = await world.chore("expire-credits", world.now, "--dry-run")
    assert "would expire 950 sms credits of alice@example.org" in dry
    assert not of_kind(await world.store.ledger.entries(A), EntryKind.EXPIRED)
    out = await world.chore("expire-credits", world.now)
    assert "1 expired" in out and "950 credits_expired" in out
    expired = of_kind(await world.store.ledger.entries(A), EntryKind.EXPIRED)
    assert [e.reason for e in expired] == [
        "950 sms credits expired unused (pack sms1000, valid until 2027-03-11)"
    ]
    assert "sms: none" in await world.command("credits")
    out = await world.chore("all", world.now + timedelta(hours=1))
    assert "expire-credits: 0 due" in out
    assert await world.store.ledger.check(A) == []

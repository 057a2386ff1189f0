"""``notify``: the notices a user receives, through the dispatcher over a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.config import Config
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import T0

ALICE = "alice@example.org"


@pytest.fixture
async def bot(redis_url: str) -> AsyncIterator[Dispatcher]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    await store.accounts.register_trial(ALICE, T0, 30)
    yield Dispatcher(build_registry(), store, Config(), clock=lambda: T0)
    await store.close()


async def said(bot: Dispatcher, text: str) -> str:
    reply = await bot.chat(ALICE, text)
    assert reply is not None
    return reply.text


async def test_notify_lists_changes_and_refuses_with_the_reason(bot: Dispatcher) -> None:
    listing = await said(bot, "notify")
    assert "usage: on\n" in listing
    assert "Always sent: payments, freezes," in listing
    assert await said(bot, "notify usage off") == "Notices of usage are off."
    assert await said(bot, "Notify usage off") == "Notices of usage are already off."
    assert "usage: off" in await said(bot, "notify")
    refused = await said(bot, "notify frozen off")
    assert refused.startswith("Notices about freezes and unfreezes cannot be turned off")
    assert "is not a kind of notice. You may turn off: usage" in await said(bot, "notify x off")
    assert "Send 'notify KIND on'" in await said(bot, "notify usage")
    assert await said(bot, "notify usage on") == "Notices of usage are on."

"""``currency``, and every amount the bot says in the asker's currency, through the
dispatcher (the chat face) over a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.config import Config, OperatorsConfig
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import T0
from tests.support.currencies import POLICY, cad, pay, priced_catalog

ALICE, BOB, OP = "alice@example.org", "bob@example.org", "admin@example.org"
CONFIG = replace(Config(), billing=POLICY, operators=OperatorsConfig((OP,)))


@pytest.fixture
async def bot(redis_url: str) -> AsyncIterator[Dispatcher]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    await priced_catalog(store)
    for jid in (ALICE, BOB):
        await store.accounts.register_trial(jid, T0, 30)
    yield Dispatcher(build_registry(), store, CONFIG, clock=lambda: T0)
    await store.close()


async def said(bot: Dispatcher, jid: str, text: str) -> str:
    reply = await bot.chat(jid, text)
    assert reply is not None
    return reply.text


async def test_currency_is_chosen_before_money_and_amounts_follow_it(bot: Dispatcher) -> None:
    assert "counts in USD" in await said(bot, ALICE, "currency")
    assert "send 'currency CAD'" in await said(bot, ALICE, "currency")
    assert "not a currency offered here: USD, CAD" in await said(bot, ALICE, "currency EUR")
    chosen = await said(bot, ALICE, "currency cad")
    assert "counts in CAD now" in chosen and "CA$20.00" in chosen
    assert "counts in CAD already" in await said(bot, ALICE, "currency CAD")
    plans = await said(bot, ALICE, "plans")
    assert "basic: Basic, CA$13.00" in plans and "usonly" not in plans
    assert "US only, $5.00" in await said(bot, BOB, "plans")
    assert "There is no plan 'usonly'" in await said(bot, ALICE, "plan usonly")
    assert "CA$4.00" in await said(bot, ALICE, "credits")
    await pay(bot.store, ALICE, cad("7.50"))
    assert "Balance: CA$7.50" in await said(bot, ALICE, "balance")
    assert "Money arrived" in await said(bot, ALICE, "currency")
    assert "counts in CAD since money arrived" in await said(bot, ALICE, "currency USD")
    assert "Pay CA$25.00 here" in await said(bot, ALICE, "topup 25")
    assert "amounts are in CAD" in await said(bot, ALICE, "topup $25")


async def test_an_operator_types_amounts_in_the_accounts_currency(bot: Dispatcher) -> None:
    await said(bot, ALICE, "currency CAD")
    assert "counts in CAD" in await said(bot, OP, f"admin show {ALICE}")
    assert "Credit CA$20.00" in await said(bot, OP, f"admin credit {ALICE} 20 welcome")
    assert "Credited CA$20.00" in await said(bot, OP, "yes")
    # CA$20 reached the activation amount: the first month (CA$13) is paid from it.
    assert (await bot.store.ledger.balances(ALICE)).prepaid == cad("7")

"""``refer`` and ``register CODE`` with a referral code, through the dispatcher over a real
store (``invite``'s codes still make leaves: tests/bot/test_groups_commands.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.codes import REFUSAL
from payments.config import Config
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import POLICY, T0, basic_plan, paid_account

RITA, NEWT, TRIAL = "rita@example.org", "newt@example.org", "trial@example.org"


@pytest.fixture
async def bot(redis_url: str) -> AsyncIterator[Dispatcher]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    await basic_plan(store, "10")
    await paid_account(store, RITA, T0, "30")
    await store.accounts.register_trial(TRIAL, T0, 30)
    yield Dispatcher(build_registry(), store, replace(Config(), billing=POLICY), clock=lambda: T0)
    await store.close()


async def said(bot: Dispatcher, jid: str, text: str) -> str:
    reply = await bot.chat(jid, text)
    assert reply is not None
    return reply.text


async def test_refer_gives_a_code_a_newcomer_registers_with_it(bot: Dispatcher) -> None:
    first = await said(bot, RITA, "refer")
    code = first.splitlines()[0].removeprefix("Your referral code: ")
    assert "gets a 60-day trial" in first and "$10.00 (a month of your plan)" in first
    assert "Signed up with it: 0. Rewards paid: 0." in first
    assert code in await said(bot, RITA, "refer")  # the same code every time
    welcome = await said(bot, NEWT, f"register {code.lower()}")
    assert welcome.startswith("Welcome! Your 60-day trial runs until 2026-03-06.")
    assert "Signed up with it: 1." in await said(bot, RITA, "refer")
    assert "paid account has a referral code" in await said(bot, TRIAL, "refer")
    assert await said(bot, "late@example.org", "register " + "X" * 25) == REFUSAL

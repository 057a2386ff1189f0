"""The saved-card commands (cards, card default, card remove, autotopup) through the bot's
dispatcher as chat lines are, over the real redis-server (no XMPP)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.config import Config, ProvidersConfig, Secret, StripeConfig, WebConfig
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import T0, days, usd
from tests.support.cards import card, paid_due, registered

A = "alice@example.org"
CONFIG = Config(
    web=WebConfig(public_url="https://pay.example.org", link_secret=Secret("s")),
    providers=ProvidersConfig(stripe=StripeConfig(True, Secret("w"), Secret("k"))),
)


@pytest.fixture
async def bot(redis_url: str) -> AsyncIterator[tuple[Dispatcher, Store]]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    yield Dispatcher(build_registry(), store, CONFIG, clock=lambda: T0), store
    await store.close()


async def say(bot: tuple[Dispatcher, Store], text: str) -> str:
    reply = await bot[0].chat(A, text)
    assert reply is not None
    return reply.text


async def test_cards_lists_them_flags_the_expiring_one_and_links_to_add_one(
    bot: tuple[Dispatcher, Store],
) -> None:
    _, store = bot
    await registered(store, A)
    assert "No card saved." in await say(bot, "cards")
    await store.cards.add(A, card("pm_1", "4242"), "cus_1")
    await store.cards.add(A, card("pm_2", "4444", brand="mastercard", year=T0.year), "cus_1")
    reply = await say(bot, "Cards")
    assert "visa …4242, expires 12/34 (default)" in reply
    assert "mastercard …4444, expires 12/26: expires soon" not in reply  # 11 months ahead
    assert "https://pay.example.org/cards/" in reply
    soon = T0.replace(month=12, day=10)
    later = Dispatcher(build_registry(), store, CONFIG, clock=lambda: soon)
    text = await later.chat(A, "cards")
    assert text is not None and "mastercard …4444, expires 12/26: expires soon" in text.text


async def test_card_default_and_remove_name_a_card_by_its_last_4_digits(
    bot: tuple[Dispatcher, Store],
) -> None:
    _, store = bot
    await registered(store, A)
    await store.cards.add(A, card("pm_1", "4242"), "cus_1")
    await store.cards.add(A, card("pm_2", "4444", brand="mastercard"), "cus_1")
    assert "mastercard …4444 is now your default card" in await say(bot, "card default 4444")
    assert "no saved card ends in 9999" in await say(bot, "card default 9999")
    assert "Remove mastercard …4444" in await say(bot, "card remove 4444")
    assert "removed. Your default card is visa …4242." in await say(bot, "yes")
    assert [c.last4 for c in await store.cards.cards(A)] == ["4242"]


async def test_the_last_card_stays_while_the_balance_does_not_cover_the_renewal(
    bot: tuple[Dispatcher, Store],
) -> None:
    _, store = bot
    await paid_due(store, A, T0 + days(10), price="10")
    await store.cards.add(A, card("pm_1", "4242"), "cus_1")
    await say(bot, "card remove 4242")
    refused = await say(bot, "yes")
    assert "visa …4242 is your only card" in refused and "($10.00)" in refused
    await store.ledger.credit(A, usd("10"), reason="top-up")
    await say(bot, "card remove 4242")
    assert "visa …4242 removed." in await say(bot, "yes")


async def test_autotopup_on_off_and_what_it_needs(bot: tuple[Dispatcher, Store]) -> None:
    _, store = bot
    await registered(store, A)
    assert "needs a saved card" in await say(bot, "autotopup 25 below 5")
    await store.cards.add(A, card("pm_1", "4242"), "cus_1")
    assert "AMOUNT below THRESHOLD" in await say(bot, "autotopup 25 under 5")
    on = await say(bot, "autotopup 25 below 5")
    assert "$25.00 is charged to visa …4242 whenever your balance falls below $5.00" in on
    assert "Automatic top-up: $25.00 when your balance is below $5.00" in await say(bot, "cards")
    assert await say(bot, "autotopup off") == "Automatic top-up is off."
    assert (await store.cards.profile(A)).autotopup is None


async def test_a_paid_account_without_card_or_cover_hears_what_is_missing(
    bot: tuple[Dispatcher, Store],
) -> None:
    _, store = bot
    await paid_due(store, A, T0 + days(10), price="10")
    reply = await say(bot, "cards")
    assert "No valid card saved, and your next renewal on" in reply
    assert "is $10.00 and your balances hold $0.00" in reply

"""Commands as people type them on phones: capitals, punctuation, two words, a slash.

The dispatcher over fakeredis and the real redis-server (the same bodies); no XMPP.
"""

from __future__ import annotations

import pytest

from bot.chat import ENCRYPTED_REPLY
from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.config import Config
from payments.money import Money
from payments.stores import Store
from tests.support.billing import T0

A = "alice@example.org"
CONFIG = Config()


async def say(store: Store, text: str, jid: str = A) -> str:
    reply = await Dispatcher(build_registry(), store, CONFIG, clock=lambda: T0).chat(jid, text)
    assert reply is not None
    return reply.text


async def trial(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    await store.ledger.credit(A, Money(50_000), reason="test")


@pytest.mark.parametrize("typed", ["Balance.", "BALANCE", "balance?", "/balance", " Balance! "])
async def test_a_command_name_with_capitals_punctuation_or_a_slash(
    store: Store, typed: str
) -> None:
    await trial(store)
    assert (await say(store, typed)).startswith("Balance: $5.00")


@pytest.mark.parametrize("typed", ["Plans?", "plans.", "/Plans"])
async def test_plans_as_typed_on_a_phone(store: Store, typed: str) -> None:
    assert await say(store, typed) == await say(store, "plans")


@pytest.mark.parametrize("typed", ["Top up 20", "top up $20", "/topup 20", "Topup 20"])
async def test_top_up_in_one_or_two_words(store: Store, typed: str) -> None:
    await trial(store)
    answer = await say(store, typed)
    assert answer == await say(store, "topup 20")
    assert "Pay $20.00 here" in answer


@pytest.mark.parametrize("typed", ["Top up", "top up?", "Top up."])
async def test_top_up_without_an_amount(store: Store, typed: str) -> None:
    await trial(store)
    answer = await say(store, typed)
    assert answer == await say(store, "topup")
    assert "Top up here" in answer


@pytest.mark.parametrize("typed", ["topup 20.", "top up 20?", "topup 2O", "topup 20,50"])
async def test_an_amount_is_never_guessed(store: Store, typed: str) -> None:
    await trial(store)
    answer = await say(store, typed)
    assert answer.startswith(f"'{typed.split()[-1]}' is not an amount like 20, 20.5"), answer


async def test_a_month_with_a_full_stop_is_read(store: Store) -> None:
    await trial(store)
    assert (await say(store, "History 2026-03.")).startswith(await say(store, "history 2026-03"))


async def test_yes_with_punctuation_confirms(store: Store) -> None:
    await trial(store)
    assert "nothing to confirm" in await say(store, "Yes.")
    assert "nothing to confirm" in await say(store, "no!")


async def test_what_is_still_unknown_gets_the_hint(store: Store) -> None:
    await trial(store)
    assert (await say(store, "/")).startswith("Unknown command '/'")
    assert (await say(store, "Top down")).startswith("Unknown command 'Top'")
    assert (await say(store, "balance please")).startswith("'balance' takes no arguments")


async def test_an_encrypted_message_gets_the_plain_explanation_and_counts_as_a_request(
    store: Store,
) -> None:
    dispatcher = Dispatcher(build_registry(), store, CONFIG, clock=lambda: T0)
    reply = await dispatcher.encrypted(A)
    assert reply is not None and reply.text == ENCRYPTED_REPLY
    assert "encryption off" in reply.text and "lock" in reply.text
    assert await store.botstate.count("msg", A, window_seconds=60, now=T0.timestamp()) <= 1

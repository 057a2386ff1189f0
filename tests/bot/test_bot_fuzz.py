"""Random chat input never crashes the bot, never moves money, always gets a short reply."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.etree import ElementTree

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slixmpp.types import MessageTypes

from accountbot.stack import Stack
from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.config import load_config
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support import ROOT
from tests.support.bots import bot_config, running_bot
from tests.support.clients import logged_in

MAX_LINES = 20
MAX_CHARS = 2500

# Characters XML 1.0 can carry (others cannot travel in a stanza at all).
xml_chars = st.characters(
    exclude_categories=["Cs"],  # surrogates
    exclude_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)] + ["\ufffe", "\uffff"],
)
words = st.sampled_from(
    [
        "balance",
        "help",
        "history",
        "admin",
        "credit",
        "debit",
        "yes",
        "no",
        "register",
        "plans",
        "2026-13",
        "$5",
        "1e3",
        "-5",
        "١٢",
        "alice@localhost",
        "\u202e",
        "🙂",
        "\x7f",
    ]
)
short_bodies = st.one_of(
    st.text(xml_chars, max_size=120),
    st.lists(st.one_of(words, st.text(xml_chars, max_size=12)), max_size=8).map(" ".join),
)
bodies = short_bodies | st.text(xml_chars, min_size=2000, max_size=6000)


def check_reply(text: str) -> None:
    assert text.strip()
    assert text.count("\n") < MAX_LINES
    assert len(text) <= MAX_CHARS


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.text(max_size=300) | bodies)
def test_dispatcher_answers_anything_briefly_and_moves_no_money(
    body: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async def scenario() -> None:
        redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        store = Store(redis)
        config = load_config(ROOT / "config.example.toml", env={})
        dispatcher = Dispatcher(build_registry(), store, config)
        jid = "fuzz@example.org"
        await store.accounts.register_trial(jid, datetime.now(UTC), 30)
        await store.ledger.credit(jid, Money.whole(5), reason="start")
        reply = await dispatcher.chat(jid, body)
        assert reply is not None
        check_reply(reply.text)
        assert (await store.ledger.balances(jid)).prepaid == Money.whole(5)
        assert len(await store.ledger.entries(jid)) == 1
        await store.close()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def fuzz_bot(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = bot_config(stack, tmp, "component", bot={"messages_per_minute": 100_000})
    with running_bot(stack, config) as child:
        yield stack.bot_jid
        assert child.alive()


FUZZ_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)


@FUZZ_SETTINGS
@given(batch=st.lists(short_bodies, min_size=20, max_size=20))
def test_fuzzed_chat_through_prosody(stack: Stack, fuzz_bot: str, batch: list[str]) -> None:
    """50 batches of 20 random bodies (1,000 messages) through the real server to the real bot."""

    async def scenario() -> None:
        store = Store(open_redis(stack.redis.url))
        jid, password = stack.xmpp.adduser(f"fuzz{secrets.token_hex(4)}")
        await store.accounts.register_trial(jid, datetime.now(UTC), 30)
        await store.ledger.credit(jid, Money.whole(5), reason="start")
        async with logged_in(jid, password, "127.0.0.1", stack.xmpp.c2s_port) as client:
            for body in batch:
                if not body:
                    continue  # an empty body is no message at all
                client.say(fuzz_bot, body)
                try:
                    reply = await client.next_message(10)
                except TimeoutError:
                    raise AssertionError(f"no reply to {body!r}") from None
                assert reply["type"] == "chat", reply
                check_reply(str(reply["body"]))
        assert (await store.ledger.balances(jid)).prepaid == Money.whole(5)
        assert len(await store.ledger.entries(jid)) == 1
        await store.close()

    asyncio.run(scenario())


async def test_huge_and_odd_stanzas_do_not_hurt(stack: Stack, fuzz_bot: str) -> None:
    jid, password = stack.xmpp.adduser(f"odd{secrets.token_hex(4)}")
    async with logged_in(jid, password, "127.0.0.1", stack.xmpp.c2s_port) as client:
        client.say(fuzz_bot, "x" * 200_000)
        assert "too long" in (await client.next_message(10))["body"]
        kinds: tuple[MessageTypes, ...] = ("groupchat", "headline", "error")
        for kind in kinds:
            client.say(fuzz_bot, "balance", kind)
        client.send_presence(pto=fuzz_bot, ptype="subscribe")
        iq = client.make_iq_get(ito=fuzz_bot)
        iq.append(ElementTree.Element("{urn:x:odd}q"))
        with pytest.raises(Exception, match=r"service-unavailable|feature-not-implemented"):
            await iq.send(timeout=5)
        client.say(fuzz_bot, "help")
        answer = await client.next_message(10)
        assert "help more" in answer["body"]  # nothing else was answered, and the bot still runs

"""A chat line costs one Redis round trip: the rate limit, the account, its balances and
the plan in force read by one script (``lua/bot_request.lua``), on fakeredis and on the
real redis-server; an ad-hoc request too. The limiter keeps its semantics; a leaf sees its
own money and its main.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from slixmpp import Iq

from bot.adhoc import AdhocCommands, register_stanzas
from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments import keys
from payments.config import Config
from payments.stores import Store
from tests.support.billing import T0, usd
from tests.support.groups import JOINED_AT, LEAF, MAIN, main_and_trial

CONFIG = Config()
STRANGER = "nobody@example.org"


@pytest.fixture
async def group(store: Store) -> Store:
    await main_and_trial(store)
    return store


def bot(store: Store, config: Config = CONFIG, now: datetime = JOINED_AT) -> Dispatcher:
    return Dispatcher(build_registry(), store, config, clock=lambda: now)


async def say(store: Store, jid: str, text: str, config: Config = CONFIG) -> str | None:
    reply = await bot(store, config).chat(jid, text)
    return reply.text if reply is not None else None


class Commands:
    """Every round trip the store's client makes: one command, or a pipeline's commands."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[list[str]] = []
        client = store.redis
        original = client.execute_command
        execute = Pipeline.execute

        async def counted(*args: Any, **options: Any) -> Any:
            self.sent.append([str(args[0]).upper()])
            return await original(*args, **options)

        async def counted_pipeline(pipe: Pipeline, raise_on_error: bool = True) -> Any:
            self.sent.append([str(c[0][0]).upper() for c in pipe.command_stack])
            return await execute(pipe, raise_on_error)

        monkeypatch.setattr(client, "execute_command", counted)
        monkeypatch.setattr(Pipeline, "execute", counted_pipeline)


async def test_balance_of_a_paid_account_is_one_script_call(
    group: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await say(group, MAIN, "balance")  # loads the script, names the plan version
    commands = Commands(group, monkeypatch)
    assert await say(group, MAIN, "balance") == first
    assert commands.sent == [["FCALL"]]
    assert first is not None and first.startswith("Balance: $30.00\nPlan: Basic, $10.00")


async def test_a_stranger_and_a_trial_are_answered_from_the_same_one_call(
    group: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await say(group, LEAF, "help")
    commands = Commands(group, monkeypatch)
    assert await say(group, STRANGER, "balance") == (
        "You have no account yet: send 'register' to start a trial."
    )
    assert (await say(group, LEAF, "balance") or "").startswith("Balance: $0.00\nPlan: trial")
    assert commands.sent == [["FCALL"], ["FCALL"]]
    assert not await group.redis.exists(keys.account(STRANGER))


async def test_requests_that_arrive_together_share_one_round_trip(
    group: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = {jid: await say(group, jid, "balance") for jid in (MAIN, LEAF, STRANGER)}
    commands = Commands(group, monkeypatch)
    asked = [MAIN, LEAF, STRANGER] * 5
    answers = await asyncio.gather(*(say(group, jid, "balance") for jid in asked))
    assert answers == [alone[jid] for jid in asked]
    assert commands.sent == [["FCALL"] * len(asked)]
    [counter] = [k async for k in group.redis.scan_iter(match=f"bot-ratelimit_msg-{{{MAIN}}}-*")]
    assert await group.redis.get(counter) == "6"


def command_iq(jid: str, node: str) -> Iq:
    register_stanzas()
    iq = Iq(stype="set", sfrom=f"{jid}/phone", sto="accounts.localhost")
    iq["command"]["node"] = node
    iq["command"]["action"] = "execute"
    return iq


def notes_of(answer: Iq) -> str:
    return "\n".join(text for _type, text in answer["command"]["notes"])


async def test_an_adhoc_request_is_one_script_call_too(
    group: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    adhoc = AdhocCommands(bot(group))
    first = notes_of(await adhoc.handle(command_iq(MAIN, "balance")))
    commands = Commands(group, monkeypatch)
    answer = await adhoc.handle(command_iq(MAIN, "balance"))
    assert commands.sent == [["FCALL"]]
    assert answer["command"]["status"] == "completed"
    assert notes_of(answer) == first and first.startswith("Balance: $30.00")


class Crash(BaseException):
    """Not an Exception, like the simulator's crashes and cancellations."""


async def test_a_crash_during_the_trip_reaches_every_caller_none_waits_forever(
    group: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(pipe: Pipeline, raise_on_error: bool = True) -> Any:
        raise Crash

    monkeypatch.setattr(Pipeline, "execute", crash)
    asked = [say(group, jid, "balance") for jid in (MAIN, LEAF)]
    results = await asyncio.wait_for(asyncio.gather(*asked, return_exceptions=True), 10)
    assert [type(r) for r in results] == [Crash, Crash]


async def test_a_library_flushed_from_redis_is_loaded_again(group: Store) -> None:
    before = await say(group, MAIN, "balance")
    await group.redis.function_flush()
    assert await say(group, MAIN, "balance") == before


async def test_the_limit_counts_as_before_first_refusal_told_then_silence(group: Store) -> None:
    config = replace(CONFIG, bot=replace(CONFIG.bot, messages_per_minute=2))
    answers = [await say(group, MAIN, "balance", config) for _ in range(4)]
    assert all(a and a.startswith("Balance:") for a in answers[:2])
    assert answers[2] == "Too many messages. Please wait a minute."
    assert answers[3] is None
    [counter] = [k async for k in group.redis.scan_iter(match="bot-ratelimit_msg-*")]
    assert await group.redis.get(counter) == "4"
    assert 60 < await group.redis.ttl(counter) <= 120
    # ad-hoc requests count on the same counter (BotStateStore.hit)
    assert await bot(group, config).limited(MAIN) is not None


async def test_a_leaf_sees_who_pays_and_its_own_money_only_when_it_has_some(
    group: Store,
) -> None:
    await say(group, MAIN, f"add {LEAF}")
    [invitation] = [n for n in await _outbox(group) if n["to"] == LEAF]
    code = invitation["body"].split("'accept ")[1].split("'")[0]
    assert (await say(group, LEAF, f"accept {code}") or "").startswith("Your account is now")
    plain = await say(group, LEAF, "balance")
    assert plain == f"Plan: Basic, $10.00 a month.\nYour account is paid for by {MAIN}."
    await group.ledger.credit(LEAF, usd("2.5"), reason="paid before it joined", at=T0)
    held = await say(group, LEAF, "balance")
    assert held == f"Balance: $2.50\n{plain}"
    main_total = str((await group.ledger.balances(MAIN)).total)
    assert main_total not in (held or "")  # never the main's money


async def _outbox(store: Store) -> list[dict[str, str]]:
    entries: Any = await store.redis.xrange(keys.OUTBOX)
    return [dict(fields) for _id, fields in entries]

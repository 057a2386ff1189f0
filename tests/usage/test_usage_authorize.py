"""authorize in one round trip (``usage_standing.lua``), and a leaf's in two: the answers
are those of the account's whole state, whatever the reads left out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from payments import keys
from payments.stores import Store
from payments.usage.flow import authorize, buy_pack, ingest
from payments.usage.rules import Reason
from tests.support.billing import usd
from tests.support.usage import LEAF, T0, A, B, customer, events, meter, sms_pack, sms_plan


@contextmanager
def round_trips(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the store's client sent, one name per round trip (a command or a pipeline)."""
    sent: list[str] = []
    redis = store.redis
    command, pipeline = redis.execute_command, redis.pipeline

    async def one_command(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).lower())
        return await command(*args, **options)

    def counted_pipeline(*args: Any, **options: Any) -> Any:
        pipe = pipeline(*args, **options)
        execute = pipe.execute

        async def one_pipeline(*args: Any, **options: Any) -> Any:
            sent.append("pipeline")
            return await execute(*args, **options)

        pipe.execute = one_pipeline  # type: ignore[method-assign]
        return pipe

    with monkeypatch.context() as patch:
        patch.setattr(redis, "execute_command", one_command)
        patch.setattr(redis, "pipeline", counted_pipeline)
        yield sent


async def a_leaf_of_a(store: Store) -> None:
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.groups.join(index, A, LEAF, plan, at=T0)


async def test_an_account_is_authorized_in_one_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sms_plan(store, sms=10)
    await customer(store)
    m = meter(store)
    await authorize(m, A, "sms", T0)  # the library loaded, the plan's allowances cached
    with round_trips(store, monkeypatch) as sent:
        decision = await authorize(m, A, "sms", T0)
    assert sent == ["pipeline"]  # one function call, sent with those queued beside it
    assert decision.allow and decision.remaining == 10


async def test_a_leaf_reads_its_mains_credits_in_a_second_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sms_plan(store, sms=2)
    await sms_pack(store, quantity=20, price="1")
    await customer(store)
    await a_leaf_of_a(store)
    m = meter(store)
    await buy_pack(m, A, "sms1000", T0, actor=A)
    await ingest(m, events(LEAF, 5), T0)  # 3 beyond its allowance, drawn on A's credits
    await authorize(m, LEAF, "sms", T0)
    with round_trips(store, monkeypatch) as sent:
        decision = await authorize(m, LEAF, "sms", T0)
    assert sent == ["pipeline", "pipeline"]
    assert decision.allow and decision.remaining == 17


async def test_a_leaf_whose_snapshot_names_another_main_draws_on_its_groups_main(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move of the main under way: the group names the new main before the snapshot."""
    await sms_plan(store, sms=0)
    await sms_pack(store, quantity=20, price="1")
    await customer(store)
    await customer(store, B)
    await a_leaf_of_a(store)
    m = meter(store)
    await buy_pack(m, A, "sms1000", T0, actor=A)
    await store.redis.hset(keys.plan_as_of(LEAF, "202603"), "paid_by", B)
    await authorize(m, LEAF, "sms", T0)
    with round_trips(store, monkeypatch) as sent:
        decision = await authorize(m, LEAF, "sms", T0)
    assert sent == ["pipeline", "pipeline", "pipeline"]
    assert decision.allow and decision.remaining == 20


async def test_only_the_resource_asked_about_counts(store: Store) -> None:
    await sms_plan(store, sms=3, voice=5)
    await sms_pack(store, quantity=20, price="1")
    await store.packs.put("voice7", at=T0, resource="voice_minutes", quantity=7, price=usd("1"))
    await customer(store)
    m = meter(store)
    await buy_pack(m, A, "sms1000", T0, actor=A)
    await buy_pack(m, A, "voice7", T0, actor=A)
    await ingest(m, events(A, 4), T0)  # one sms drawn on credits, pending
    await ingest(m, events(A, 2, resource="voice_minutes", prefix="v"), T0)
    sms, voice = await authorize(m, A, "sms", T0), await authorize(m, A, "voice_minutes", T0)
    assert (sms.remaining, voice.remaining) == (19, 3 + 7)
    assert (await authorize(m, A, "mms", T0)).reason is Reason.EXHAUSTED


async def test_no_account_closed_and_frozen_are_told_apart(store: Store) -> None:
    await sms_plan(store)
    m = meter(store)
    assert (await authorize(m, A, "sms", T0)).reason is Reason.UNKNOWN
    await customer(store)
    await store.redis.hset(keys.freezes(A), "operator", "{}")
    assert (await authorize(m, A, "sms", T0)).reason is Reason.FROZEN
    await store.redis.hset(keys.account(A), "status", "closed")
    assert (await authorize(m, A, "sms", T0)).reason is Reason.CLOSED


async def test_calls_at_once_share_one_round_trip_and_each_gets_its_answer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sms_plan(store, sms=10)
    await customer(store)
    m = meter(store)
    await ingest(m, events(A, 4), T0)
    await authorize(m, A, "sms", T0)
    asked = [A, B] * 10
    with round_trips(store, monkeypatch) as sent:
        decisions = await asyncio.gather(*(authorize(m, jid, "sms", T0) for jid in asked))
    assert sent == ["pipeline"]
    assert [(d.remaining, d.reason) for d in decisions] == [(6, None), (0, Reason.UNKNOWN)] * 10

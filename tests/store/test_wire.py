"""The batch wire (payments/store/wire.py): hiredis packs what redis-py would, byte for
byte; a batch's replies come back in order with errors in place; a library the node lost
is loaded again; fakeredis and the simulator's clients get the same through a pipeline."""

from __future__ import annotations

import asyncio
from typing import Any

import fakeredis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection
from redis.exceptions import DataError, ResponseError

from payments.store.connection import open_redis
from payments.store.scripts import Scripts
from payments.store.wire import BatchingRedis, packed, send_batch, with_hiredis_packing
from payments.stores import Store
from tests.support.waits import eventually

ARG = st.one_of(st.text(), st.binary(), st.integers(min_value=-(2**63), max_value=2**63 - 1))


@given(st.lists(ARG, max_size=12), st.sampled_from(["SET", "FCALL", "ZADD"]))
def test_hiredis_packs_what_redis_py_packs(args: list[str | bytes | int], name: str) -> None:
    command = (name, *args)
    theirs = b"".join(Connection().pack_command(*command))
    assert packed(Connection(), command) == theirs
    assert b"".join(with_hiredis_packing(Connection)().pack_command(*command)) == theirs


@pytest.mark.parametrize("command", [("ZADD", "k", 0.1, "m"), ("CONFIG GET", "maxmemory")])
def test_a_float_or_a_two_word_name_is_packed_by_redis_py(command: tuple[Any, ...]) -> None:
    theirs = b"".join(Connection().pack_command(*command))
    assert packed(Connection(), command) == theirs
    assert b"".join(with_hiredis_packing(Connection)().pack_command(*command)) == theirs


def test_a_bool_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(DataError):
        packed(Connection(), ("SET", "k", True))
    with pytest.raises(DataError):
        with_hiredis_packing(Connection)().pack_command("SET", "k", None)  # type: ignore[arg-type]


async def test_a_batch_answers_in_order_with_errors_in_place(real_store: Store) -> None:
    redis = real_store.redis
    assert isinstance(redis, BatchingRedis)
    replies = await send_batch(
        redis, [("SET", "a", "1"), ("INCR", "a"), ("HGET", "a", "x"), ("GET", "a")]
    )
    assert replies[:2] == ["OK", 2]
    assert isinstance(replies[2], ResponseError)  # WRONGTYPE, read whole
    assert replies[3] == "2"
    assert await redis.get("a") == "2"  # the connection is still in step


async def test_a_batch_cancelled_half_read_leaves_no_reply_behind(redis_url: str) -> None:
    redis = open_redis(redis_url, max_connections=1)  # the next command gets its connection
    assert isinstance(redis, BatchingRedis)
    watcher = open_redis(redis_url)
    try:
        await redis.delete("queue", "b")
        batch = asyncio.create_task(redis.send_batch([("BLPOP", "queue", 0), ("SET", "b", "1")]))

        async def blocked() -> bool:
            return int((await watcher.info("clients"))["blocked_clients"]) > 0

        await eventually(blocked, "the batch's BLPOP waiting")
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
        await watcher.rpush("queue", "late")  # would answer a BLPOP still waiting there
        assert await redis.echo("probe") == "probe"
        assert await redis.lrange("queue", 0, -1) == ["late"]
        assert await redis.get("b") is None  # the batch's connection was closed
    finally:
        await redis.aclose()
        await watcher.aclose()


@pytest.mark.parametrize("client", ["redis-server", "fakeredis"])
async def test_calls_run_in_one_batch_after_the_commands_before(
    client: str, real_store: Store
) -> None:
    redis = (
        real_store.redis
        if client == "redis-server"
        else fakeredis.FakeAsyncRedis(decode_responses=True)
    )
    scripts = Scripts(redis)
    calls = [([f"k{i}"], ["x", 1]) for i in range(5)]
    before = [("ZADD", "k0", 1, "x"), ("ZADD", "k3", 2, "x")]
    assert await scripts.call_many("zrem_if_score", calls, before=before) == [1, 0, 0, 0, 0]
    assert await redis.zscore("k3", "x") == 2
    if client == "fakeredis":
        await redis.aclose()


async def test_a_node_that_lost_the_library_gets_it_again(real_store: Store) -> None:
    scripts = Scripts(real_store.redis)
    calls = [([f"k{i}"], ["x", 1]) for i in range(5)]
    assert await scripts.call_many("zrem_if_score", calls) == [0] * 5
    await real_store.redis.function_flush()  # a restarted node without persistence
    await real_store.redis.zadd("k2", {"x": 1})
    assert await scripts.call_many("zrem_if_score", calls) == [0, 0, 1, 0, 0]


async def test_an_error_reply_of_a_call_raises_after_the_whole_batch(real_store: Store) -> None:
    scripts = Scripts(real_store.redis)
    await real_store.redis.set("k1", "a string")
    await real_store.redis.zadd("k2", {"x": 1})
    calls = [(["k0"], ["x", 1]), (["k1"], ["x", 1]), (["k2"], ["x", 1])]
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await scripts.call_many("zrem_if_score", calls)
    assert await real_store.redis.zscore("k2", "x") is None  # the call after it ran
    assert await real_store.redis.ping()

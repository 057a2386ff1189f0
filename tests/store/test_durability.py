"""Money is acknowledged only once it is on ``[redis] wait_replicas`` replicas: WAIT on the
master of each account written, after a write of its own on the same connection."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from redis.asyncio import RedisCluster

from accountbot.stack import LocalCluster, RedisServer
from payments import keys
from payments.errors import NotYetDurable
from payments.money import Money
from payments.store.connection import open_redis
from payments.store.durability import Durability, DurabilityPolicy
from payments.stores import Store

A = "alice@example.org"
ON_EVERY_MASTER = [f"user{i}@example.org" for i in range(30)]


@pytest.fixture
async def cluster_store(redis_cluster: LocalCluster) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_cluster.url))
    await store.redis.flushdb()
    try:
        yield store
    finally:
        await store.close()


def master_of(redis: RedisCluster, jid: str) -> int:
    node = redis.get_node_from_key(keys.durable(jid))
    assert node is not None
    return int(node.port)


@contextmanager
def stopped(node: RedisServer) -> Iterator[None]:
    """A replica frozen (SIGSTOP): connected, acknowledging nothing, until SIGCONT."""
    assert node.child is not None
    os.kill(node.child.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(node.child.pid, signal.SIGCONT)


async def test_a_single_node_asks_for_no_replica_and_writes_no_fence(real_store: Store) -> None:
    assert real_store.durability.wanted() == 0
    await real_store.ledger.credit(A, Money(10_000), reason="test")
    await real_store.durability.confirm([A])
    assert not await real_store.redis.exists(keys.durable(A))


async def test_a_replica_that_is_not_there_times_out(real_store: Store) -> None:
    strict = Durability(real_store.redis, DurabilityPolicy(replicas=1, timeout_ms=20))
    await real_store.ledger.credit(A, Money(10_000), reason="test")
    with pytest.raises(NotYetDurable) as refused:
        await strict.confirm([A])
    assert (refused.value.acknowledged, refused.value.wanted) == (0, 1)
    assert str(refused.value) == "written, but not yet safe: on 0 of 1 replicas after 20 ms"
    assert 0 < await real_store.redis.ttl(keys.durable(A)) <= 60
    assert (await real_store.ledger.balances(A)).prepaid == Money(10_000)  # the write stays


async def test_a_cluster_with_replicas_waits_for_one_on_each_master_written(
    cluster_store: Store, redis_cluster: LocalCluster
) -> None:
    assert cluster_store.durability.wanted() == 1
    for jid in ON_EVERY_MASTER:
        await cluster_store.ledger.credit(jid, Money(10_000), reason="test")
    await cluster_store.durability.confirm(ON_EVERY_MASTER)
    redis = cluster_store.redis
    assert isinstance(redis, RedisCluster)
    assert len({master_of(redis, j) for j in ON_EVERY_MASTER}) == 3  # one WAIT each


async def test_a_master_whose_replica_stalls_is_not_acknowledged(
    cluster_store: Store, redis_cluster: LocalCluster
) -> None:
    """The WAIT runs on the account's master, on the connection of the fence write: with
    that master's replica stopped it times out (a WAIT on a connection that wrote nothing
    would return at once, counting the stopped replica)."""
    redis = cluster_store.redis
    assert isinstance(redis, RedisCluster)
    await redis.initialize()
    master = redis_cluster.node(master_of(redis, A))
    others = [j for j in ON_EVERY_MASTER if master_of(redis, j) != master.port]
    strict = Durability(redis, DurabilityPolicy(replicas=1, timeout_ms=200))
    with stopped(redis_cluster.replica_of(master)):
        await cluster_store.ledger.credit(A, Money(10_000), reason="test")
        with pytest.raises(NotYetDurable):
            await strict.confirm([A])
        await strict.confirm(others)  # the other masters' replicas are in sync
    await strict.confirm([A])  # the replica caught up

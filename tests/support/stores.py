"""A store on the test stack's Redis for tests that run synchronously (the CLI's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis
from redis.cluster import ClusterNode

from payments.store.connection import is_cluster_url, open_redis, parse_cluster_url
from payments.stores import Store

T = TypeVar("T")


def run_on_store(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``work`` with a store of its own on ``url``, in an event loop of its own."""

    async def body() -> T:
        store = Store(open_redis(url))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(body())


def sync_redis(url: str) -> redis.Redis | redis.RedisCluster:
    """A synchronous client (decoding) of the test stack's Redis: one node or the cluster."""
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, decode_responses=True)
    nodes = [ClusterNode(host, port) for host, port in parse_cluster_url(url).nodes]
    return redis.RedisCluster(startup_nodes=nodes, decode_responses=True)

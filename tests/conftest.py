"""Fixtures: one real local stack per test session, each server started by the first test
that needs it.

A store test starts redis-server only; Prosody starts with the first test that
asks for ``stack`` (the XMPP tests). If a server cannot start, the fixture
raises: the tests that need it fail loudly, they are never skipped.

``ACCOUNTBOT_TEST_REDIS=cluster`` runs the session on a local Redis Cluster
(3 masters, 3 replicas) instead of one redis-server: ``make test`` runs the
store, flow and chore suites that way too. Tests of the cluster itself ask for
``redis_cluster``: the session's cluster, or one of its own in a single-node
session.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import fakeredis
import pytest

from accountbot.stack import Child, LocalCluster, RedisServer, Stack, StackError, free_port
from payments.store.connection import RedisClient, open_redis
from payments.stores import Store
from tests.support import ROOT
from tests.support.waits import eventually

OPERATORS = ("admin@localhost",)
CLUSTER = os.environ.get("ACCOUNTBOT_TEST_REDIS") == "cluster"


@pytest.fixture(scope="session")
def session_stack() -> Iterator[Stack]:
    """The session's stack, nothing started: the fixtures below start what tests ask for."""
    root = ROOT / ".local" / f"test-{secrets.token_hex(4)}"
    stack = Stack(root, cluster=CLUSTER)
    try:
        yield stack
    finally:
        stack.stop()  # whatever was started (Stack.stop skips a server never started)
        if os.environ.get("ACCOUNTBOT_KEEP_TEST_STACK") is None:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(session_stack: Stack) -> RedisServer | LocalCluster:
    """The session's redis-server (or cluster), and nothing else."""
    session_stack.redis.start()
    return session_stack.redis


@pytest.fixture(scope="session")
def redis_cluster(request: pytest.FixtureRequest, session_stack: Stack) -> Iterator[LocalCluster]:
    """A local Redis Cluster: the session's, or one started for the cluster's own tests."""
    if CLUSTER:
        server = request.getfixturevalue("redis_server")
        assert isinstance(server, LocalCluster)
        yield server
        return
    cluster = LocalCluster(session_stack.root / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_stack(session_stack: Stack, redis_server: RedisServer) -> Stack:
    """redis-server and an accountbot config for it, no Prosody: the CLI and chore tests.

    The config names Prosody's ports too; nothing that reads it here connects to them.
    """
    session_stack.write_config(operators=OPERATORS)
    return session_stack


@pytest.fixture(scope="session")
def stack(redis_stack: Stack) -> Stack:
    """redis-server and Prosody, and their config: the tests that speak XMPP."""
    redis_stack.prosody.start()
    return redis_stack


@pytest.fixture
async def web_service(redis_stack: Stack, tmp_path: Path) -> AsyncIterator[tuple[Child, Path]]:
    """A real `accountbot web` process on a free port, with its own config file."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = redis_stack.write_config(
        operators=OPERATORS, path=tmp_path / "web.toml", web={"port": port, "public_url": base}
    )
    child = redis_stack.start_app("web", config=config)
    try:
        await serving(child, base)
        yield child, config
    finally:
        child.stop()
        redis_stack.apps.remove(child)


async def serving(child: Child, base: str) -> None:
    """Wait until the web service answers ``/healthz`` (it logs before it binds its port)."""
    async with aiohttp.ClientSession() as http:

        async def healthy() -> bool:
            if not child.alive():
                raise StackError(f"the web service exited:\n{child.tail()}")
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(f"{base}/healthz") as response:
                    return response.status == 200
            return False

        await eventually(healthy, f"{base}/healthz answering 200", timeout=20)


@pytest.fixture
def redis_url(redis_server: RedisServer | LocalCluster) -> str:
    return redis_server.url


@pytest.fixture
async def real_store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["redis-cluster"] if CLUSTER else ["fakeredis", "redis-server"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The same test body against fakeredis and against the real redis-server (or, in a
    cluster session, against the cluster only: the single-node session ran fakeredis)."""
    client: RedisClient
    if request.param == "fakeredis":
        client = fakeredis.FakeAsyncRedis(decode_responses=True)
    else:
        client = open_redis(request.getfixturevalue("redis_url"))
        await client.flushdb()
    store = Store(client)
    try:
        yield store
    finally:
        await store.close()

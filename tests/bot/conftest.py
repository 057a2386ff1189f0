"""The end-to-end tests of the bot run on both XMPP servers: Prosody (the session's
``stack``) and ejabberd (a stack of its own, started once per session)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from accountbot.stack import Stack
from accountbot.xmpp_servers import SERVERS
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.servers import started_stack


@pytest.fixture(scope="session")
def ejabberd_stack() -> Iterator[Stack]:
    with started_stack("ejabberd") as stack:
        yield stack


@pytest.fixture(scope="module", params=SERVERS)
def server_stack(request: pytest.FixtureRequest) -> Stack:
    """Each server in turn (module scope: one bot per module and server)."""
    name = "stack" if request.param == "prosody" else "ejabberd_stack"
    stack: Stack = request.getfixturevalue(name)
    return stack


@pytest.fixture
async def server_store(server_stack: Stack) -> AsyncIterator[Store]:
    """A store on that server's stack, emptied first (as ``real_store``)."""
    store = Store(open_redis(server_stack.redis.url))
    await store.redis.flushdb()
    try:
        yield store
    finally:
        await store.close()

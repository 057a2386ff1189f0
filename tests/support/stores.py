"""A store on the test stack's Redis for tests that run synchronously (the CLI's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from payments.store.connection import open_redis
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

"""Waiting in tests: on a condition polled against a deadline, never on a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.02


async def eventually(check: Callable[[], Awaitable[T]], what: str, timeout: float = 10.0) -> T:
    """Poll ``check`` until it returns a true value, and return that value.

    Fails naming ``what`` if it is still false at the deadline; ``check`` may
    raise to fail at once (a server that died will never answer).
    """
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: still not the case after {timeout:g} s")
        await asyncio.sleep(POLL_SECONDS)  # between two probes: the deadline bounds the wait
    return value

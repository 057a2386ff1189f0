"""Calls of one function that arrive together, sent together: one pipeline per turn of the
event loop.

A web service answering many requests at once (the gateway's ``authorize``) calls
the same function for each. Sent one by one, every call pays a round trip and
redis-py's per-command work; queued until the loop has run every ready handler,
they share one write and one wait. Each call stays atomic on its own (a function
runs alone on its node); only the network trip is shared. The bot's requests
(``bot_request.py``) and the gateway's ``authorize`` use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from payments.store.scripts import Scripts

Call = tuple[Sequence[str], Sequence[Any], "asyncio.Future[Any]"]


class Coalesced:
    """``call`` runs the function ``name`` with the other calls queued in this loop turn."""

    def __init__(self, scripts: Scripts, name: str) -> None:
        self._scripts = scripts
        self._name = name
        self._waiting: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((keys, args, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._send_waiting)
        return await future

    def _send_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # a reference until it is done
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Call]) -> None:
        try:
            results: list[Any] = await self._pipeline(batch)
        except BaseException as exc:  # even a crash or a cancellation is the callers'
            results = [exc] * len(batch)  # to raise: none of them may wait forever
        for (_keys, _args, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, asyncio.CancelledError):
                future.cancel()
            elif isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        """The results in order (``Scripts`` loads the library where it is missing)."""
        async with self._scripts.pipeline() as pipe:
            for keys, args, _future in batch:
                pipe.call(self._name, keys, args)
            return await pipe.execute()

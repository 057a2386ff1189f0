"""Lua: one file per atomic change under ``lua/``, loaded together as one function library.

Each ``lua/NAME.lua`` is the body of the function NAME (``KEYS`` and ``ARGV`` are
its arguments, as in a script). A file may share helpers with others: a line
``--! include NAME`` is replaced by ``lua/lib/NAME.lua`` (the helpers that take
money with its ledger entry, that grant credits ...), so a rule that several
atomic steps apply is written once.

Why a function library (``FUNCTION LOAD``, ``FCALL``) and not ``EVALSHA``:
Redis persists a library (AOF, RDB) and replicates it, so the replica a failover
promotes has it. The script cache is neither persisted nor replicated (Redis 7
does not replicate ``SCRIPT LOAD``): after a failover every ``EVALSHA`` finds
no script, and redis-py's cluster pipeline does not load it again. The
library's name carries a digest of its text, so two versions of accountbot
running side by side during an upgrade each call their own functions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final

from redis.exceptions import ResponseError

from payments.store.connection import RedisClient
from payments.store.wire import BatchingRedis, Command

INCLUDE: Final = re.compile(r"^--! include (\w+)$", re.M)
LIBRARY_PREFIX: Final = "accountbot_"


def script_text(name: str) -> str:
    """The source of ``lua/NAME.lua`` with its includes expanded."""
    lua = resources.files("payments.store").joinpath("lua")
    text = lua.joinpath(f"{name}.lua").read_text("utf-8")
    return INCLUDE.sub(lambda m: lua.joinpath("lib", f"{m[1]}.lua").read_text("utf-8"), text)


def script_names() -> list[str]:
    lua = resources.files("payments.store").joinpath("lua")
    return sorted(p.name.removesuffix(".lua") for p in lua.iterdir() if p.name.endswith(".lua"))


@dataclass(frozen=True)
class Library:
    """Every script of ``lua/`` as one function library, named by its digest."""

    digest: str
    code: str = field(repr=False)

    @property
    def name(self) -> str:
        return LIBRARY_PREFIX + self.digest

    def function(self, script: str) -> str:
        return f"{script}_{self.digest}"


@cache
def library() -> Library:
    bodies = {name: script_text(name) for name in script_names()}
    digest = hashlib.sha256(repr(sorted(bodies.items())).encode()).hexdigest()[:16]
    parts = [f"#!lua name={LIBRARY_PREFIX}{digest}"]
    for name, body in bodies.items():
        parts.append(f"redis.register_function('{name}_{digest}', function(KEYS, ARGV)")
        parts += [body, "end)"]
    return Library(digest, "\n".join(parts) + "\n")


def _missing_function(error: BaseException) -> bool:
    """A node that has not got the library: restarted without persistence, or a new master."""
    return isinstance(error, ResponseError) and "Function not found" in str(error)


class Scripts:
    """The library over one Redis client (every master of a cluster), loaded once."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._loaded = False
        self.library = library()

    async def load(self) -> None:
        """FUNCTION LOAD REPLACE on every master: the same text replaces itself, harmlessly."""
        await self._redis.function_load(self.library.code, replace=True)
        self._loaded = True

    async def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the function ``name`` (``lua/NAME.lua``) on ``keys`` (one hash slot)."""
        if not self._loaded:
            await self.load()
        function = self.library.function(name)
        try:
            return await self._redis.fcall(function, len(keys), *keys, *args)
        except ResponseError as exc:
            if not _missing_function(exc):
                raise
        await self.load()
        return await self._redis.fcall(function, len(keys), *keys, *args)

    async def call_many(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[str], Sequence[Any]]],
        *,
        before: Sequence[Command] = (),
    ) -> list[Any]:
        """Run the function ``name`` once per ``(keys, args)``, after the ``before``
        commands; each call's reply, in order. On one node it is one round trip, one
        buffer (``BatchingRedis.send_batch``). Otherwise the ``before`` commands go in a
        round trip of their own first (on a cluster a pipeline's commands to different
        masters run in no set order), then the calls in one pipeline. Any error reply
        raises once the whole batch is read."""
        if not isinstance(self._redis, BatchingRedis):
            return await self._call_in_pipelines(name, calls, before)
        if not self._loaded:
            await self.load()
        function = self.library.function(name)
        commands = [("FCALL", function, len(keys), *keys, *args) for keys, args in calls]
        sent = await self._redis.send_batch([*before, *commands])
        _raise_first(sent[: len(before)])
        replies = sent[len(before) :]
        missing = [i for i, reply in enumerate(replies) if _missing_function(reply)]
        if missing:  # the node restarted without persistence: none of them ran
            await self.load()
            again = await self._redis.send_batch([commands[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        _raise_first(replies)
        return replies

    async def _call_in_pipelines(
        self,
        name: str,
        calls: Sequence[tuple[Sequence[str], Sequence[Any]]],
        before: Sequence[Command],
    ) -> list[Any]:
        if before:
            async with self._redis.pipeline(transaction=False) as pipe:
                for command in before:
                    pipe.execute_command(*command)
                await pipe.execute()
        async with self.pipeline() as batch:
            for script_keys, args in calls:
                batch.call(name, script_keys, args)
            return await batch.execute()

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[ScriptPipeline]:
        """A non-transactional pipeline that may also queue function calls."""
        if not self._loaded:
            await self.load()
        async with self._redis.pipeline(transaction=False) as pipe:
            yield ScriptPipeline(self, pipe)


@dataclass
class ScriptPipeline:
    """A pipeline (``pipe``: queue any command on it) and the function calls queued in it."""

    scripts: Scripts
    pipe: Any
    calls: dict[int, tuple[str, Sequence[str], Sequence[Any]]] = field(default_factory=dict)

    def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> None:
        self.calls[len(self.pipe)] = (name, keys, args)
        self.pipe.fcall(self.scripts.library.function(name), len(keys), *keys, *args)

    async def execute(self) -> list[Any]:
        """Every reply, in order. A call that found no library on its node did not run:
        it runs once more (after the rest of the pipeline) once the library is loaded.
        Any other error is raised, as a plain pipeline would."""
        replies: list[Any] = await self.pipe.execute(raise_on_error=False)
        for index, (name, keys, args) in self.calls.items():
            if _missing_function(replies[index]):
                replies[index] = await self.scripts.call(name, keys, args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies


def _raise_first(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply

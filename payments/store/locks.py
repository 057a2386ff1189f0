"""Chore locks: one host at a time runs a chore on a shard (SET NX PX, compare-and-delete).

The token names the holder (``host:pid:start time:random``). A lock outlives a holder
that was killed until its TTL runs out, except on the holder's own host:
there a new run sees that the pid is gone and takes the lock over at once
(compare-and-set), so a chore restarted after a crash does not wait.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any, Final

from payments import keys
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts

DEFAULT_TTL_MS: Final = 60_000


def new_token() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}:{secrets.token_hex(8)}"


def holder_is_dead(token: str) -> bool:
    """True only for a holder on this host whose process is gone (or is another one now).

    The token carries the holder's pid and its start time (``/proc/PID/stat``),
    so a pid reused by a later process is not mistaken for the holder.
    """
    parts = token.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    started = _started(pid)
    return started == "" or started != parts[2]


def _started(pid: int) -> str:
    """The start time of a live process (clock ticks since boot); '' when there is none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[-1].split()
    except OSError:
        return ""
    # fields[0] is the state (field 3 of stat(5)); the start time is field 22.
    return "" if fields[0] == "Z" else fields[19]


class ChoreLock:
    def __init__(
        self, redis: RedisClient, scripts: Scripts, name: str, ttl_ms: int, shard: int | None
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.key = keys.chore_lock(name, shard)
        self.ttl_ms = ttl_ms
        self.token = new_token()

    async def acquire(self) -> bool:
        if await self._redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        holder: Any = await self._redis.get(self.key)
        if holder and holder_is_dead(holder):
            args = [holder, self.token, self.ttl_ms]
            return bool(await self._scripts.call("lock_steal", [self.key], args))
        return False

    async def refresh(self) -> bool:
        """Extend the lock; False when it was lost (expired and taken by another host)."""
        args = [self.token, self.ttl_ms]
        return bool(await self._scripts.call("lock_refresh", [self.key], args))

    async def release(self) -> bool:
        return bool(await self._scripts.call("lock_release", [self.key], [self.token]))

    async def holder(self) -> str:
        value: Any = await self._redis.get(self.key)
        return str(value or "")


class LockStore:
    def __init__(self, redis: RedisClient, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    def chore(
        self, name: str, ttl_ms: int = DEFAULT_TTL_MS, *, shard: int | None = None
    ) -> ChoreLock:
        """The lock of a chore on one shard (several hosts share a chore by shard), or
        without a shard, of a one-off task (the catalog applied at start)."""
        return ChoreLock(self._redis, self._scripts, name, ttl_ms, shard)

"""The chores' schedules: global sorted sets of JIDs scored by when to look at them.

``payment-renewals``, ``payment-trial_ends``, ``payment-unpaid``,
``payment-billing_frozen``: a chore reads only the members due (score up to
now) and checks each account's own state before acting. An entry may be
early, never late: it is written before (or with) the change that makes an
account due, and dropped only by the chore that reads it, after a look at
the account (``remove`` then a look again, so a change that landed
meanwhile keeps its entry). The repair chore rebuilds them from the
accounts' state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from payments.clock import epoch, from_epoch


class ScheduleStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def add(self, schedule: str, jid: str, at: datetime) -> None:
        """Look at ``jid`` from ``at``, whatever its entry said: for a chore that looked at
        the account and moves its entry (later, when it is not due yet)."""
        await self._redis.zadd(schedule, {jid: epoch(at)})

    async def add_early(self, schedule: str, jid: str, at: datetime) -> None:
        """Look at ``jid`` from ``at``, or earlier if it was listed earlier (ZADD LT): for a
        change that makes it due, which must never push a due entry later."""
        await self._redis.zadd(schedule, {jid: epoch(at)}, lt=True)

    async def add_many(self, schedule: str, entries: Sequence[tuple[str, datetime]]) -> None:
        """``add`` of many entries, in one command."""
        if entries:
            await self._redis.zadd(schedule, {jid: epoch(at) for jid, at in entries})

    async def remove(self, schedule: str, jid: str) -> None:
        await self._redis.zrem(schedule, jid)

    async def due(
        self,
        schedule: str,
        until: datetime,
        count: int,
        *,
        since: datetime | None = None,
        offset: int = 0,
    ) -> list[tuple[str, datetime]]:
        """``count`` JIDs whose time is in ``(since, until]``, earliest first, from ``offset``."""
        low = "-inf" if since is None else f"({epoch(since)}"
        raw: Any = await self._redis.zrangebyscore(
            schedule, low, epoch(until), start=offset, num=count, withscores=True
        )
        return [(jid, from_epoch(score)) for jid, score in raw]

    async def at(self, schedule: str, jid: str) -> datetime | None:
        score: Any = await self._redis.zscore(schedule, jid)
        return None if score is None else from_epoch(score)

    async def count(self, schedule: str) -> int:
        return int(await self._redis.zcard(schedule))

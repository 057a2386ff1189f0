"""The chores' schedules: sorted sets of JIDs scored by when to look at them, sharded.

``payment-renewals``, ``payment-trial_ends``, ``payment-unpaid``,
``payment-billing_frozen`` (and the usage chores' ``payment-usage_unsettled``,
``payment-credit_expiries``, the saved cards' ``payment-card_due``) are each split
into ``[redis] shards`` keys
(``payment-renewals-{s07}``): a JID's entry is in the shard of its JID, and a
chore reads one shard at a time, only the members due (score up to now), and
checks each account's own state before acting. An entry may be early, never
late: it is written before (or with) the change that makes an account due, and
dropped only by the chore that reads it, after a look at the account
(``remove`` then a look again, so a change that landed meanwhile keeps its
entry). The repair chore rebuilds them from the accounts' state, and moves the
entries of a deployment's unsharded keys (from before shards) into the shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from payments import keys
from payments.clock import epoch, from_epoch
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts
from payments.store.shards import Shards

MOVE_PAGE: Final = 1_000
# The schedules whose score is a time: a moved entry keeps the earliest (never late).
# usage_unsettled counts batches instead: the larger count is kept.
TIMED: Final = (
    keys.RENEWALS,
    keys.TRIAL_ENDS,
    keys.UNPAID,
    keys.BILLING_FROZEN,
    keys.CREDIT_EXPIRIES,
    keys.CARD_DUE,
)
SETS: Final = (keys.ACCOUNTS, keys.AUTOTOPUPS)  # registries: sets of JIDs, not sorted sets
UNSHARDED: Final = (*TIMED, keys.USAGE_UNSETTLED, *SETS)


@dataclass(frozen=True, slots=True)
class Moved:
    key: str
    entries: int


class ScheduleStore:
    def __init__(self, redis: RedisClient, scripts: Scripts, shards: Shards) -> None:
        self._redis = redis
        self._scripts = scripts
        self.shards = shards

    async def add(self, schedule: str, jid: str, at: datetime) -> None:
        """Look at ``jid`` from ``at``, whatever its entry said: for a chore that looked at
        the account and moves its entry (later, when it is not due yet)."""
        await self._redis.zadd(self.shards.key(schedule, jid), {jid: epoch(at)})

    async def add_early(self, schedule: str, jid: str, at: datetime) -> None:
        """Look at ``jid`` from ``at``, or earlier if it was listed earlier (ZADD LT): for a
        change that makes it due, which must never push a due entry later."""
        await self._redis.zadd(self.shards.key(schedule, jid), {jid: epoch(at)}, lt=True)

    async def add_many(self, schedule: str, entries: Sequence[tuple[str, datetime]]) -> None:
        """``add`` of many entries, one command per shard, in one round trip."""
        when = dict(entries)
        async with self._redis.pipeline(transaction=False) as pipe:
            for number, jids in self.shards.split(when).items():
                pipe.zadd(keys.shard(schedule, number), {j: epoch(when[j]) for j in jids})
            await pipe.execute()

    async def remove(self, schedule: str, jid: str) -> None:
        await self._redis.zrem(self.shards.key(schedule, jid), jid)

    async def due(
        self,
        schedule: str,
        shard: int,
        until: datetime,
        count: int,
        *,
        since: datetime | None = None,
        offset: int = 0,
    ) -> list[tuple[str, datetime]]:
        """``count`` JIDs of one shard whose time is in ``(since, until]``, earliest first,
        from ``offset``."""
        low = "-inf" if since is None else f"({epoch(since)}"
        raw: Any = await self._redis.zrangebyscore(
            keys.shard(schedule, shard), low, epoch(until), start=offset, num=count, withscores=True
        )
        return [(jid, from_epoch(score)) for jid, score in raw]

    async def at(self, schedule: str, jid: str) -> datetime | None:
        score: Any = await self._redis.zscore(self.shards.key(schedule, jid), jid)
        return None if score is None else from_epoch(score)

    async def count(self, schedule: str) -> int:
        """Entries over every shard."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self.shards.all(schedule):
                pipe.zcard(key)
            sizes = await pipe.execute()
        return sum(int(size) for size in sizes)

    # --- a deployment from before shards --------------------------------------------

    async def unsharded(self) -> list[Moved]:
        """The unsharded keys still holding entries, and how many each holds."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in UNSHARDED:
                if key in SETS:
                    pipe.scard(key)
                else:
                    pipe.zcard(key)
            sizes = await pipe.execute()
        return [Moved(key, int(size)) for key, size in zip(UNSHARDED, sizes, strict=True) if size]

    async def move_unsharded(self) -> list[Moved]:
        """Move every entry of the unsharded keys into its shard; idempotent, safe to run on
        several hosts at once and to cut short. Each page is written into the shards
        first, then removed from the old key (an entry rewritten meanwhile stays, and is
        moved by the next page): a crash between the two leaves it in both, never in
        neither."""
        moved = []
        for found in await self.unsharded():
            mover = self._move_members if found.key in SETS else self._move_scored
            moved.append(Moved(found.key, await mover(found.key)))
        return moved

    async def _move_scored(self, key: str) -> int:
        total = 0
        while page := await self._page(key):
            scores = dict(page)
            earliest = key in TIMED
            async with self._redis.pipeline(transaction=False) as pipe:
                for number, jids in self.shards.split(scores).items():
                    entries = {jid: scores[jid] for jid in jids}
                    pipe.zadd(keys.shard(key, number), entries, lt=earliest, gt=not earliest)
                await pipe.execute()
            async with self._scripts.pipeline() as batch:
                for jid, score in scores.items():
                    batch.call("zrem_if_score", [key], [jid, score])
                total += sum(int(removed) for removed in await batch.execute())
        return total

    async def _page(self, key: str) -> list[tuple[str, float]]:
        page: Any = await self._redis.zrange(key, 0, MOVE_PAGE - 1, withscores=True)
        return [(str(jid), float(score)) for jid, score in page]

    async def _move_members(self, key: str) -> int:
        total = 0
        while page := await self._redis.srandmember(key, MOVE_PAGE):
            jids = [str(jid) for jid in page]
            async with self._redis.pipeline(transaction=False) as pipe:
                for number, members in self.shards.split(jids).items():
                    pipe.sadd(keys.shard(key, number), *members)
                await pipe.execute()
            total += int(await self._redis.srem(key, *jids))
        return total

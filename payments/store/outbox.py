"""The notifications outbox: a durable stream any process appends to, the bot drains.

Prosody bounces stanzas for a component that is down and stores nothing, so
whatever the system must tell a user is queued here first. The bot reads it
through a consumer group and deletes an entry only after sending it: a bot
that dies mid-send gets the entry again (from its pending list, or another
bot claims it after ``STALE_MS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from redis.exceptions import ResponseError

from payments import keys
from payments.notices import OPTIONAL, Notice
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts
from payments.store.wire import send_batch

DEDUPE_SECONDS: Final = 30 * 24 * 3600
STALE_MS: Final = 60_000


class OutboxStore:
    def __init__(self, redis: RedisClient, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def notify(self, note: Notice) -> bool:
        """Queue a notice; one with a ``key`` is queued once per key (30 days). The marker
        and the entry are one script (``lua/notify.lua``): both or neither."""
        return bool(await self.notify_many([note]))

    async def notify_many(self, notes: Sequence[Notice]) -> int:
        """``notify`` of many notices in one function call (the markers share the stream's
        hash slot), in one round trip (two when some are of a kind a user may turn off);
        how many were queued. A notice of a kind its recipient turned off
        (``notify KIND off``) is not queued: the choice holds where notices enter the outbox,
        whoever sends them (the web service, the chores, the bot)."""
        notes = await self._wanted(notes)
        if not notes:
            return 0
        markers = [keys.outbox_dedupe(note.key) if note.key else keys.OUTBOX for note in notes]
        args: list[str | int] = [DEDUPE_SECONDS]
        for note in notes:
            fields = note.fields()
            args.append(len(fields))
            for pair in fields.items():
                args += pair
        # call_many: its arguments packed by hiredis (a page of the renew chore: ~3,000)
        queued = await self._scripts.call_many("notify", [([*markers, keys.OUTBOX], args)])
        return int(queued[0])

    async def _wanted(self, notes: Sequence[Notice]) -> list[Notice]:
        """The notices their recipients did not turn off (one read of the optional ones)."""
        optional = [n for n in notes if n.kind in OPTIONAL]
        if not optional:
            return list(notes)
        off = await send_batch(
            self._redis,
            [("SISMEMBER", keys.notify_off(n.to), OPTIONAL[n.kind].value) for n in optional],
        )
        dropped = {id(n) for n, is_off in zip(optional, off, strict=True) if is_off}
        return [n for n in notes if id(n) not in dropped]

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(keys.OUTBOX, keys.OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def pending_mine(self, consumer: str, count: int = 100) -> list[Notice]:
        """Entries this consumer read but did not finish (after a restart)."""
        return await self._read(consumer, "0", count, block_ms=None)

    async def claim_stale(self, consumer: str, count: int = 100) -> list[Notice]:
        """Entries another consumer read and left for more than STALE_MS (it died)."""
        result: Any = await self._redis.xautoclaim(
            keys.OUTBOX, keys.OUTBOX_GROUP, consumer, STALE_MS, start_id="0-0", count=count
        )
        return [Notice.decode(eid, f) for eid, f in result[1] if f]

    async def next_batch(
        self, consumer: str, count: int = 100, block_ms: int = 5000
    ) -> list[Notice]:
        return await self._read(consumer, ">", count, block_ms)

    async def done(self, note: Notice) -> None:
        """Sent: acknowledge and delete, so the stream holds only what is unsent."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.OUTBOX, keys.OUTBOX_GROUP, note.id)
            pipe.xdel(keys.OUTBOX, note.id)
            await pipe.execute()

    async def backlog(self) -> int:
        return int(await self._redis.xlen(keys.OUTBOX))

    async def _read(
        self, consumer: str, start: str, count: int, block_ms: int | None
    ) -> list[Notice]:
        result: Any = await self._redis.xreadgroup(
            keys.OUTBOX_GROUP, consumer, {keys.OUTBOX: start}, count=count, block=block_ms
        )
        if not result:
            return []
        _stream, entries = result[0]
        return [Notice.decode(eid, f) for eid, f in entries if f]

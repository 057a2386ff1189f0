"""State the bot keeps in Redis so that several bot processes share it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, Final

from payments import keys
from payments.store.connection import RedisClient

CONFIRM_SECONDS: Final = 120
TOLD_SECONDS: Final = 300


class BotStateStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def hit(
        self, bucket: str, jid: str, *, limit: int, window_seconds: int, now: float
    ) -> int:
        """Count one request in a fixed window; returns how far past ``limit`` it is (0 = ok)."""
        window = int(now // window_seconds)
        key = keys.rate_limit(bucket, jid, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds * 2)
            count, _ = await pipe.execute()
        return max(0, int(count) - limit)

    async def count(self, bucket: str, jid: str, *, window_seconds: int, now: float) -> int:
        value: Any = await self._redis.get(keys.rate_limit(bucket, jid, int(now // window_seconds)))
        return int(value or 0)

    async def ask_confirmation(self, jid: str, command_line: str) -> None:
        await self._redis.set(keys.pending_confirmation(jid), command_line, ex=CONFIRM_SECONDS)

    async def take_confirmation(self, jid: str) -> str | None:
        """The command waiting for "yes", removed at once (GETDEL: confirmed only once)."""
        value: Any = await self._redis.getdel(keys.pending_confirmation(jid))
        return str(value) if value is not None else None

    async def add_subscriber(self, jid: str) -> bool:
        """Remember a JID subscribed to the bot's presence; False if it already was."""
        return bool(await self._redis.sadd(keys.PRESENCE_SUBSCRIBERS, jid))

    async def drop_subscriber(self, jid: str) -> None:
        await self._redis.srem(keys.PRESENCE_SUBSCRIBERS, jid)

    async def subscribers(self, batch: int = 500) -> AsyncIterator[list[str]]:
        """Every subscriber, in batches (SSCAN: no single long command)."""
        cursor: Any = 0
        while True:
            cursor, found = await self._redis.sscan(keys.PRESENCE_SUBSCRIBERS, cursor, count=batch)
            if found:
                yield [str(jid) for jid in found]
            if int(cursor) == 0:
                return

    async def remember_offer(
        self, jid: str, code: str, label: str, *, at: datetime, days: int
    ) -> None:
        """An invitation delivered to ``jid`` at ``at``, open ``days``: a choice of its
        accept form. (A relative EXPIRE: tests run at other instants than Redis's clock.)"""
        key = keys.offers(jid)
        until = at + timedelta(days=days)
        record = json.dumps({"label": label, "until": until.isoformat()})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, code, record)
            pipe.expire(key, days * 86_400)
            await pipe.execute()

    async def offers(self, jid: str, now: datetime) -> list[tuple[str, str]]:
        """(code, label) of the invitations delivered to ``jid`` that have not ended."""
        raw: Any = await self._redis.hgetall(keys.offers(jid))
        found = []
        for code, text in sorted(raw.items()):
            record = json.loads(text)
            if datetime.fromisoformat(record["until"]) > now:
                found.append((str(code), str(record["label"])))
        return found

    async def forget_offer(self, jid: str, code: str) -> None:
        await self._redis.hdel(keys.offers(jid), code)

    async def will_tell(self, jid: str, key_prefix: str) -> None:
        """A reply to ``jid`` is about to say what the notice keyed ``key_prefix...`` says."""
        key = keys.told(jid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, key_prefix)
            pipe.expire(key, TOLD_SECONDS)
            await pipe.execute()

    async def untell(self, jid: str, key_prefix: str) -> None:
        await self._redis.srem(keys.told(jid), key_prefix)

    async def was_told(self, jid: str, notice_key: str) -> bool:
        """True (once) when a reply already said what this notice says."""
        prefixes: Any = await self._redis.smembers(keys.told(jid))
        for prefix in prefixes:
            if notice_key.startswith(prefix):
                return bool(await self._redis.srem(keys.told(jid), prefix))
        return False

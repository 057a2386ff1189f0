"""The choices in Redis: ``payment-notify_off-{JID}``, the set of kinds turned off.

The outbox (``payments/store/outbox.py``) reads it when it queues a notice."""

from __future__ import annotations

from typing import Any

from payments import keys
from payments.notices import NoticeChoice
from payments.store.connection import RedisClient


class ChoiceStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def off(self, jid: str) -> frozenset[NoticeChoice]:
        found: Any = await self._redis.smembers(keys.notify_off(jid))
        return frozenset(NoticeChoice(name) for name in found if name in set(NoticeChoice))

    async def turn(self, jid: str, choice: NoticeChoice, on: bool) -> bool:
        """True when this changed it (it was the other way)."""
        key = keys.notify_off(jid)
        changed = await (self._redis.srem if on else self._redis.sadd)(key, choice.value)
        return bool(changed)

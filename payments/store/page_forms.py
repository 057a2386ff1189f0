"""The account page's forms in Redis: each form token is taken once.

A token is signed, not stored, when the page is rendered (``payments/web/forms.py``);
the first submission marks its nonce here (SET NX), so a repeat finds the mark and
what the first one did, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from payments import keys
from payments.store.connection import RedisClient


class PageFormStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def take(self, jid: str, nonce: str, ttl_seconds: int) -> str | None:
        """Mark a form as submitted: None the first time; after that, what the first
        submission recorded ('' while it is still running)."""
        key = keys.page_form(jid, nonce)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, "", nx=True, ex=max(ttl_seconds, 1))
            pipe.get(key)
            fresh, value = await pipe.execute()
        return None if fresh else str(value)

    async def record(self, jid: str, nonce: str, outcome: str) -> None:
        """What the submission did (kept as long as the mark: the link's lifetime)."""
        await self._redis.set(keys.page_form(jid, nonce), outcome, xx=True, keepttl=True)

    async def outcome(self, jid: str, nonce: str) -> str | None:
        value: Any = await self._redis.get(keys.page_form(jid, nonce))
        return None if value is None else str(value)

"""Failed code attempts per sender: vouchers, invitations and referral codes share one budget."""

from __future__ import annotations

from typing import Final

from payments import keys
from payments.store.connection import RedisClient

ATTEMPT_WINDOW_SECONDS: Final = 3600


class CodeAttemptStore:
    """Failed code attempts (vouchers, referral and invitation codes) per sender, per hour."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def failures(self, jid: str) -> int:
        return int(await self._redis.get(keys.code_failures(jid)) or 0)

    async def record_failure(self, jid: str) -> int:
        key = keys.code_failures(jid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(
                key, ATTEMPT_WINDOW_SECONDS, nx=True
            )  # the window starts at the first failure
            count, _ = await pipe.execute()
        return int(count)

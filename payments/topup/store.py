"""Checkouts: payments created at a provider, recorded before the user pays.

The record says which account and amount a provider's payment id stands
for; BTCPay and the test provider are credited from it. Kept 90 days: a
Bitcoin payment may settle hours after the invoice, a refund query later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from payments import keys
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts
from payments.topup.checkout import PendingPayment

CHECKOUT_TTL_SECONDS: Final = 90 * 24 * 3600


class PaymentsInStore:
    def __init__(self, redis: RedisClient, scripts: Scripts, currency: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currency = currency

    async def record(self, pending: PendingPayment) -> None:
        key = keys.checkout(pending.provider, pending.provider_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=pending.fields())  # type: ignore[arg-type]
            pipe.expire(key, CHECKOUT_TTL_SECONDS)
            await pipe.execute()

    async def get(self, provider: str, provider_id: str) -> PendingPayment | None:
        fields: Any = await self._redis.hgetall(keys.checkout(provider, provider_id))
        return PendingPayment.decode(fields, self.currency) if fields else None

    async def mark_credited(self, provider: str, provider_id: str, at: datetime) -> bool:
        key = keys.checkout(provider, provider_id)
        return bool(await self._scripts.call("checkout_credited", [key], [at.isoformat()]))

"""The plan catalog in Redis."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from payments import keys
from payments.plans import Plan


class PlanStore:
    def __init__(self, redis: Redis, currency: str) -> None:
        self._redis = redis
        self.currency = currency

    async def catalog(self) -> list[Plan]:
        """Current version of every plan, cheapest first."""
        raw: Any = await self._redis.hgetall(keys.PLANS)
        plans = [Plan.decode(text, self.currency) for text in raw.values()]
        return sorted(plans, key=lambda p: (p.price.units, p.id))

    async def get(self, plan_id: str) -> Plan | None:
        text: Any = await self._redis.hget(keys.PLANS, plan_id)
        return Plan.decode(text, self.currency) if text else None

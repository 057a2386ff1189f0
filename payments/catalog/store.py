"""The plan catalog in Redis: versioned prices, the current version of each plan.

``payment-plan_versions-ID`` keeps every version ever sold (accounts keep
the price they bought at, in their own snapshot); ``payment-plans`` names
the current one. A change writes the new version first (HSETNX: two
operators at once get two versions), then publishes it unless a newer one
is already current. Both keys are global, in different hash slots, so the
two steps are separate; a crash between them leaves a version that the
next change supersedes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from payments import keys
from payments.catalog.records import Plan
from payments.money import Money
from payments.store.scripts import Scripts


class PlanStore:
    def __init__(self, redis: Redis, currency: str, scripts: Scripts | None = None) -> None:
        self._redis = redis
        self._scripts = scripts or Scripts(redis)
        self.currency = currency

    async def catalog(self) -> list[Plan]:
        """Current version of every plan, cheapest first."""
        raw: Any = await self._redis.hgetall(keys.PLANS)
        plans = [Plan.decode(text, self.currency) for text in raw.values()]
        return sorted(plans, key=lambda p: (p.price.units, p.id))

    async def get(self, plan_id: str) -> Plan | None:
        text: Any = await self._redis.hget(keys.PLANS, plan_id)
        return Plan.decode(text, self.currency) if text else None

    async def version(self, plan_id: str, version: int) -> Plan | None:
        text: Any = await self._redis.hget(keys.plan_versions(plan_id), str(version))
        return Plan.decode(text, self.currency) if text else None

    async def versions(self, plan_id: str) -> list[Plan]:
        raw: Any = await self._redis.hgetall(keys.plan_versions(plan_id))
        return sorted(
            (Plan.decode(t, self.currency) for t in raw.values()), key=lambda p: p.version
        )

    async def put(
        self,
        plan_id: str,
        *,
        at: datetime,
        price: Money | None = None,
        name: str | None = None,
        allowances: dict[str, int] | None = None,
    ) -> tuple[Plan, bool]:
        """A new version with what is given (the rest kept); (plan, False) when nothing changed."""
        current = await self.get(plan_id)
        wanted = _merge(plan_id, current, at, price, name, allowances)
        if current is not None and _same_offer(current, wanted):
            return current, False
        version = wanted.version
        while not await self._redis.hsetnx(
            keys.plan_versions(plan_id), str(version), _with_version(wanted, version).encode()
        ):
            version += 1  # another operator took this number first
        plan = _with_version(wanted, version)
        await self._scripts.call("plan_publish", [keys.PLANS], [plan_id, version, plan.encode()])
        return plan, True


def _merge(
    plan_id: str,
    current: Plan | None,
    at: datetime,
    price: Money | None,
    name: str | None,
    allowances: dict[str, int] | None,
) -> Plan:
    if current is None:
        if price is None or not name:
            raise ValueError("a new plan needs a price and a name")
        return Plan(plan_id, 1, name, price, at, dict(allowances or {}))
    return Plan(
        plan_id,
        current.version + 1,
        name or current.name,
        price if price is not None else current.price,
        at,
        dict(current.allowances if allowances is None else allowances),
    )


def _same_offer(a: Plan, b: Plan) -> bool:
    return (a.name, a.price, a.allowances) == (b.name, b.price, b.allowances)


def _with_version(plan: Plan, version: int) -> Plan:
    return Plan(plan.id, version, plan.name, plan.price, plan.created_at, plan.allowances)

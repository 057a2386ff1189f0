"""Payer groups (SPEC §4): ``payment-leaf_jids-{INDEX}`` and ``payment-leaf_jids_index-{JID}``.

Billing reads them to charge a main for each leaf, freeze leaves with their
main and detach them at closure. Issue 6 (group management: invitations,
referral codes, ``add``/``remove``/``leave``) builds on the same keys; the
writers here are the minimal ones billing and its tests need. Each step
touches one hash slot: the leaf's keys (``{JID}``) or the group list
(``{INDEX}``), in an order that a re-run completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from payments import keys
from payments.accounts import month_key
from payments.billing import FreezeRecord
from payments.plans import Plan
from payments.store.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Group:
    index: str
    main: str
    leaves: tuple[str, ...]

    @property
    def members(self) -> tuple[str, ...]:
        return (self.main, *self.leaves)


class GroupStore:
    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def index_of(self, jid: str) -> str:
        index: Any = await self._redis.get(keys.leaf_jids_index(jid))
        return str(index or "")

    async def get(self, index: str) -> Group | None:
        if not index:
            return None
        members: Any = await self._redis.lrange(keys.leaf_jids(index), 0, -1)
        if not members:
            return None
        return Group(index, members[0], tuple(dict.fromkeys(members[1:])))

    async def of(self, jid: str) -> Group | None:
        """The group ``jid`` is the main or a leaf of."""
        return await self.get(await self.index_of(jid))

    async def create(self, main: str) -> str:
        """The main's group, created when it has none (index first: a re-run reuses it)."""
        index = await self.index_of(main)
        if not index:
            candidate = str(await self._redis.incr(keys.LEAF_GROUPS))
            await self._redis.set(keys.leaf_jids_index(main), candidate, nx=True)
            index = await self.index_of(main)
        if not await self._redis.exists(keys.leaf_jids(index)):
            await self._redis.rpush(keys.leaf_jids(index), main)
        return index

    async def join(self, index: str, main: str, leaf: str, plan: Plan, *, at: datetime) -> int:
        """``leaf`` joins at ``plan``'s price: 1 joined, 0 already in a group, -1 refused."""
        yyyymm = month_key(at)
        status = int(
            await self._scripts.call(
                "join_group",
                [keys.account(leaf), keys.leaf_jids_index(leaf), keys.plan_as_of(leaf, yyyymm)],
                [index, main, at.isoformat(), yyyymm, plan.id, plan.version, plan.price.units],
            )
        )
        joined = await self.index_of(leaf) == index
        if joined:
            members: Any = await self._redis.lrange(keys.leaf_jids(index), 0, -1)
            if leaf not in members:
                await self._redis.rpush(keys.leaf_jids(index), leaf)
        return status

    async def detach(self, index: str, leaf: str, record: FreezeRecord, *, at: datetime) -> bool:
        """Detach a leaf (its side, then the list); True when this call detached it."""
        yyyymm = month_key(at)
        done = await self._scripts.call(
            "detach_leaf",
            [
                keys.account(leaf),
                keys.leaf_jids_index(leaf),
                keys.freezes(leaf),
                keys.plan_as_of(leaf, yyyymm),
            ],
            [index, at.isoformat(), yyyymm, record.encode()],
        )
        await self._redis.lrem(keys.leaf_jids(index), 0, leaf)
        return bool(done)

    async def dissolve(self, index: str, main: str) -> None:
        """Remove an empty group: the list, then the main's index (both idempotent)."""
        await self._redis.delete(keys.leaf_jids(index))
        current: Any = await self._redis.get(keys.leaf_jids_index(main))
        if current == index:
            await self._redis.delete(keys.leaf_jids_index(main))

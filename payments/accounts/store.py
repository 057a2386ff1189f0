"""Account records: registration and reads (billing changes them through its own scripts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from payments import keys
from payments.accounts.records import TRIAL_PLAN, Account, trial_end
from payments.clock import epoch, month_of
from payments.store.scripts import Scripts


class AccountStore:
    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def get(self, jid: str) -> Account | None:
        """The account, or None for a JID that is not a user."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.account(jid))
            pipe.hgetall(keys.freezes(jid))
            fields, freezes = await pipe.execute()
        if not fields:
            return None
        return Account.decode(jid, fields, freezes)

    async def register_trial(self, jid: str, at: datetime, trial_days: int) -> bool:
        """Start a trial; False when the JID already has an account (of any state)."""
        yyyymm = month_of(at)
        # The trial-end schedule first: a crash after it leaves an entry the
        # freeze chore drops (the JID is no trial), never a trial that never ends.
        ends = trial_end(at, trial_days)
        await self._redis.zadd(keys.TRIAL_ENDS, {jid: epoch(ends)}, nx=True)
        created = await self._scripts.call(
            "register",
            [keys.account(jid), keys.plan_as_of(jid, yyyymm)],
            [at.isoformat(), trial_end(at, trial_days).isoformat(), yyyymm, TRIAL_PLAN],
        )
        return bool(created)

    async def plan_snapshot(self, jid: str) -> dict[str, str]:
        """The plan in force now: the newest ``plan_as_of`` snapshot of the account."""
        yyyymm: Any = await self._redis.hget(keys.account(jid), "plan_as_of")
        if not yyyymm:
            return {}
        snapshot: Any = await self._redis.hgetall(keys.plan_as_of(jid, yyyymm))
        return dict(snapshot)

"""Account records: registration and reads (billing changes them through its own scripts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from enum import IntEnum
from typing import Any

from payments import keys
from payments.accounts.records import TRIAL_PLAN, Account, FreezeKind, FreezeRecord, trial_end
from payments.clock import epoch, month_of
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts
from payments.store.shards import Shards

REOPENED_WHY = "reopened after its closure: top up to activate it"


class Registered(IntEnum):
    EXISTS = 0  # an open account already
    CREATED = 1  # a new trial
    REOPENED = 2  # a closed account, open again with its money (and its debts)


class AccountStore:
    def __init__(
        self, redis: RedisClient, scripts: Scripts, shards: Shards, default_currency: str = "USD"
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._shards = shards
        self.default_currency = default_currency

    async def get(self, jid: str) -> Account | None:
        """The account, or None for a JID that is not a user."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.account(jid))
            pipe.hgetall(keys.freezes(jid))
            fields, freezes = await pipe.execute()
        if not fields:
            return None
        return Account.decode(jid, fields, freezes, self.default_currency)

    async def register_trial(
        self,
        jid: str,
        at: datetime,
        trial_days: int,
        *,
        currency: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> Registered:
        """Start a trial, or reopen a closed account (``lua/register.lua``): it comes back
        with its money, as a trial that has ended, billing-frozen until it activates. A new
        account counts in ``currency`` (the default when ''); ``extra`` fields are written
        on a new account only (a referral: who referred it)."""
        yyyymm = month_of(at)
        # The schedules first: a crash after them leaves entries the chores drop (the
        # JID is no trial), never a trial that never ends or a reopening never closed.
        ends = trial_end(at, trial_days)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self._shards.key(keys.ACCOUNTS, jid), jid)
            pipe.zadd(self._shards.key(keys.TRIAL_ENDS, jid), {jid: epoch(ends)}, lt=True)
            await pipe.execute()
        reopened = FreezeRecord(FreezeKind.BILLING, "register", at, REOPENED_WHY)
        status = await self._scripts.call(
            "register",
            [keys.account(jid), keys.plan_as_of(jid, yyyymm), keys.freezes(jid)],
            [
                at.isoformat(), ends.isoformat(), yyyymm, TRIAL_PLAN, reopened.encode(),
                currency or self.default_currency,
                *[part for pair in (extra or {}).items() for part in pair],
            ],
        )  # fmt: skip
        if status == Registered.REOPENED:
            frozen = self._shards.key(keys.BILLING_FROZEN, jid)
            await self._redis.zadd(frozen, {jid: epoch(at)}, lt=True)
        return Registered(int(status))

    async def enlist(self, jid: str) -> None:
        """Into the registry the repair walks, before the JID has any state (a move's new JID)."""
        await self._redis.sadd(self._shards.key(keys.ACCOUNTS, jid), jid)

    async def set_currency(self, jid: str, code: str) -> int:
        """``lua/currency_set.lua``: what it answers (``accounts.currency.CurrencySet``)."""
        args = [code, self.default_currency]
        keys_ = [keys.account(jid), keys.transactions(jid), keys.move(jid)]
        return int(await self._scripts.call("currency_set", keys_, args))

    async def all_jids(self, shard: int, page: int = 1000) -> AsyncIterator[list[str]]:
        """Every JID of one shard of the account registry, a page at a time (SSCAN: for
        the repair)."""
        key, cursor = keys.shard(keys.ACCOUNTS, shard), 0
        while True:
            cursor, jids = await self._redis.sscan(key, cursor, count=page)
            if jids:
                yield sorted(str(jid) for jid in jids)
            if int(cursor) == 0:
                return

    async def seed_registry(self) -> int:
        """A deployment from before the registry: find its accounts once, with SCAN (on
        every master of a cluster), when no shard of the registry exists yet."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._shards.all(keys.ACCOUNTS):
                pipe.exists(key)
            if any(await pipe.execute()):
                return 0
        seeded = 0
        async for key in self._redis.scan_iter(match=keys.account("*"), count=1000):
            jid = keys.jid_of(key)
            seeded += int(await self._redis.sadd(self._shards.key(keys.ACCOUNTS, jid), jid))
        return seeded

    async def plan_snapshot(self, jid: str) -> dict[str, str]:
        """The plan in force now: the newest ``plan_as_of`` snapshot of the account."""
        yyyymm: Any = await self._redis.hget(keys.account(jid), "plan_as_of")
        if not yyyymm:
            return {}
        snapshot: Any = await self._redis.hgetall(keys.plan_as_of(jid, yyyymm))
        return dict(snapshot)

"""Credits in Redis: buying a pack, granting, expiring, autobuy.

The pack catalog is in ``payments/catalog/``. A purchase is one Lua
script on the buyer's keys that takes the price (voucher first, then
prepaid), writes the ledger and the grant. The expiry schedule
(``payment-credit_expiries``) is a global index written after the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments import keys
from payments.clock import epoch
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts
from payments.store.shards import Shards
from payments.usage.credits import AutoBuy, Grant, earliest_expiry
from payments.usage.store import decode_grants


class BuyStatus:
    BOUGHT = 1
    REPLAY = 0
    NOT_ENOUGH = -1
    NO_ACCOUNT = -2
    FROZEN = -3
    LEAF = -4
    CURRENCY = -5  # the price was read in another currency than the account's


@dataclass(frozen=True, slots=True)
class Bought:
    status: int  # a BuyStatus
    voucher: Money  # taken from the voucher balance
    prepaid: Money
    balance: Money  # voucher + prepaid after; what is missing when NOT_ENOUGH


@dataclass(frozen=True, slots=True)
class ExpiredGrant:
    id: str
    resource: str
    left: int  # credits that expired unused


class CreditStore:
    def __init__(
        self, redis: RedisClient, scripts: Scripts, currencies: Currencies, shards: Shards
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies
        self._shards = shards

    # --- an account's grants ---------------------------------------------------------

    async def grants(self, jid: str) -> tuple[Grant, ...]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.credit_grants(jid))
            self.currencies.queue(pipe, jid)
            raw, currency = await pipe.execute()
        return decode_grants(raw, self.currencies.of_field(currency))

    async def buy(
        self, jid: str, grant: Grant, *, ref: str, at: datetime, actor: str, reason: str
    ) -> Bought:
        """Charge ``grant.price`` and grant it, once per ``ref``; see credit_buy.lua."""
        status, voucher, prepaid, value = await self._scripts.call(
            "credit_buy",
            [
                keys.balance_voucher(jid),
                keys.balance_prepaid(jid),
                keys.transactions(jid),
                keys.idempotency(jid),
                keys.credit_grants(jid),
                keys.account(jid),
                keys.freezes(jid),
            ],
            [
                ref,
                grant.id,
                grant.encode(),
                grant.price.units,
                at.isoformat(),
                actor,
                reason,
                grant.resource,
                grant.quantity,
                grant.price.currency,
                self.currencies.default,
            ],
        )
        cur = grant.price.currency  # the account's: the script checked it
        bought = Bought(int(status), Money(int(voucher), cur), Money(int(prepaid), cur),
                        Money(int(value), cur))  # fmt: skip
        if bought.status == BuyStatus.BOUGHT:
            await self.schedule_expiry(jid, grant.expires_at)
        return bought

    async def schedule_grants(self, jid: str) -> None:
        """Put the account's earliest live grant on the expiry schedule (after a renewal or a
        settlement granted the credits of recurring packs; the repair chore also does it)."""
        grants = await self.grants(jid)
        expiry = earliest_expiry(grants)
        if expiry is not None:
            await self.schedule_expiry(jid, expiry)

    async def expire(
        self, jid: str, *, now: datetime, cutoff: datetime, actor: str
    ) -> list[ExpiredGrant]:
        """Remove expired grants, writing what was left to the ledger; see credit_expire.lua."""
        expired, earliest = await self._scripts.call(
            "credit_expire",
            [
                keys.credit_grants(jid),
                keys.credit_pending(jid),
                keys.transactions(jid),
                keys.balance_prepaid(jid),
            ],
            [epoch(now), epoch(cutoff), now.isoformat(), actor],
        )
        await self._reschedule_expiry(jid, int(earliest))
        return [ExpiredGrant(str(g), str(r), int(left)) for g, r, left in expired]

    # --- the expire chore's schedule ---------------------------------------------------

    async def schedule_expiry(self, jid: str, expires_at: datetime) -> None:
        """After a grant is written: the schedule holds at most its expiry (ZADD LT)."""
        schedule = self._shards.key(keys.CREDIT_EXPIRIES, jid)
        await self._redis.zadd(schedule, {jid: epoch(expires_at)}, lt=True)

    async def _reschedule_expiry(self, jid: str, earliest: int) -> None:
        schedule = self._shards.key(keys.CREDIT_EXPIRIES, jid)
        if earliest >= 0:
            await self._redis.zadd(schedule, {jid: earliest})
        else:
            await self._redis.zrem(schedule, jid)
        # A purchase may have landed between the script and this write: read the
        # grants again, so that its own (earlier) schedule write is not undone.
        latest = earliest_expiry(await self.grants(jid))
        if latest is not None and (earliest < 0 or epoch(latest) < earliest):
            await self.schedule_expiry(jid, latest)

    async def expiring(self, until: datetime, shard: int) -> list[str]:
        """JIDs of one shard whose earliest grant expires by ``until`` (expire now, or warn)."""
        key, found = keys.shard(keys.CREDIT_EXPIRIES, shard), list[str]()
        while True:
            page: Any = await self._redis.zrangebyscore(
                key, "-inf", epoch(until), start=len(found), num=1000
            )
            found += list(page)
            if len(page) < 1000:
                return found

    # --- autobuy -------------------------------------------------------------------------

    async def autobuys(self, jid: str) -> list[AutoBuy]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.autobuy(jid))
            self.currencies.queue(pipe, jid)
            raw, field = await pipe.execute()
        currency = self.currencies.of_field(field)
        return [AutoBuy.decode(pid, text, currency) for pid, text in sorted(raw.items())]

    async def set_autobuy(self, jid: str, auto: AutoBuy) -> bool:
        """Turn autobuy on at ``auto``'s snapshot; False when it was on already (kept as it was)."""
        return bool(await self._redis.hsetnx(keys.autobuy(jid), auto.pack, auto.encode()))

    async def clear_autobuy(self, jid: str, pack_id: str) -> bool:
        return bool(await self._redis.hdel(keys.autobuy(jid), pack_id))

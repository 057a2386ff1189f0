"""Referrals in Redis: the global code (``payment-referral_code-{CODE}``), the referrer's
record (``payment-referrals-{JID}``: its code, counters, each newcomer's state), and the
newcomer's account fields ``referred_by`` and ``referral_code`` (written at registration).
Each method is one step on one key's slot, safe to repeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from payments import keys
from payments.money import Money
from payments.referrals.rules import NewcomerState, Stats, state_of
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts


class Decided(IntEnum):
    """What ``lua/referral_decide.lua`` answers."""

    REWARDED = 1
    WITHHELD = 2
    BEFORE = 0
    NOT_SIGNED_UP = -1
    CURRENCY = -2


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    referrer: str
    open: bool


class ReferralStore:
    def __init__(self, redis: RedisClient, scripts: Scripts, currencies: Currencies) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies

    async def stats(self, referrer: str) -> Stats:
        fields: Any = await self._redis.hgetall(keys.referrals(referrer))
        return Stats.decode(fields)

    async def create_code(self, code: str, referrer: str, at: datetime) -> bool:
        """The global code first (False: it exists, draw another)."""
        args = [referrer, at.isoformat()]
        return bool(
            await self._scripts.call("referral_code_create", [keys.referral_code(code)], args)
        )

    async def name_code(self, referrer: str, code: str) -> str:
        """The referrer's code: ``code`` unless it has one already (then that one)."""
        key = keys.referrals(referrer)
        await self._redis.hsetnx(key, "code", code)
        named: Any = await self._redis.hget(key, "code")
        return str(named)

    async def code(self, code: str) -> Code | None:
        fields: Any = await self._redis.hgetall(keys.referral_code(code))
        if not fields:
            return None
        return Code(code, fields["referrer"], fields.get("status") == "open")

    async def revoke(self, code: str, at: datetime) -> None:
        """No one signs up with it any more (its referrer moved, say); the record stays."""
        revoked = {"status": "revoked", "revoked_at": at.isoformat()}
        await self._redis.hset(keys.referral_code(code), mapping=revoked)  # type: ignore[arg-type]

    async def drop_code(self, referrer: str, code: str) -> None:
        """The referrer's record no longer names ``code`` (revoked): ``refer`` draws another."""
        key = keys.referrals(referrer)
        if await self._redis.hget(key, "code") == code:
            await self._redis.hdel(key, "code")

    async def signed_up(self, referrer: str, newcomer: str, at: datetime) -> bool:
        args = [newcomer, at.isoformat()]
        return bool(await self._scripts.call("referral_signup", [keys.referrals(referrer)], args))

    async def state(self, referrer: str, newcomer: str) -> NewcomerState | None:
        value: Any = await self._redis.hget(keys.referrals(referrer), f"new:{newcomer}")
        return state_of(value) if value else None

    async def referred_by(self, jid: str) -> str:
        value: Any = await self._redis.hget(keys.account(jid), "referred_by")
        return str(value or "")

    async def referred_with(self, jid: str) -> str:
        """The referral code a newcomer registered with ('' for none)."""
        value: Any = await self._redis.hget(keys.account(jid), "referral_code")
        return str(value or "")

    async def counted_as(self, jid: str) -> str:
        """The JID its referrer counted: ``jid`` if it registered with a referral code, the
        JID it moved from if that one did (``referred_as``); '' when it was not referred."""
        by, counted = await self._redis.hmget(keys.account(jid), ["referred_by", "referred_as"])
        return str(counted or (jid if by else ""))

    async def reward(
        self, referrer: str, newcomer: str, amount: Money, *, at: datetime, actor: str
    ) -> tuple[Decided, Money]:
        """Once per newcomer: ``amount`` (in the referrer's currency, checked) added to the
        referrer's voucher balance with its ledger entry; (what happened, balance after)."""
        reason = f"referral reward: {newcomer} signed up with your code and paid"
        status, after = await self._decide(
            referrer, "reward", newcomer, at, actor, amount.units, amount.currency, reason
        )
        return status, Money(int(after), amount.currency)

    async def withhold(
        self, referrer: str, newcomer: str, why: str, *, at: datetime, actor: str
    ) -> Decided:
        status, _ = await self._decide(referrer, "withhold", newcomer, at, actor, 0, "", why)
        return status

    async def _decide(self, referrer: str, *args: Any) -> tuple[Decided, int]:
        mode, newcomer, at, actor, units, currency, text = args
        status, after = await self._scripts.call(
            "referral_decide",
            [
                keys.referrals(referrer),
                keys.balance_voucher(referrer),
                keys.transactions(referrer),
                keys.idempotency(referrer),
                keys.account(referrer),
            ],
            [mode, newcomer, at.isoformat(), actor, units, currency, self.currencies.default, text],
        )
        return Decided(int(status)), int(after)

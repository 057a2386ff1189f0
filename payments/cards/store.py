"""Saved cards in Redis: the cards, the profile (customer, default, automatic top-up), the
charge in flight, the scheduled attempts, and the schedule of card work.

Each change of one account is one Lua script over its keys (``card_*.lua``,
``autotopup_claim.lua``): a card saved once per fingerprint, one charge in
flight per account, a charge's success credited once per payment with its
ledger entry. ``payment-card_due-{sNN}`` lists when to look at an account
again: an entry may be early, never late (``ZADD LT``), and is dropped only
by whoever looked, if nobody marked it since (``zrem_if_score.lua``).
``payment-autotopups-{sNN}`` holds the accounts with automatic top-up on. Both
are split into ``[redis] shards`` like the chores' schedules: a JID's entry is
in the shard of its JID, and a reader takes one shard at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, Final

from payments import keys
from payments.cards.records import (
    Card,
    CardProfile,
    ChargeRequest,
    InFlight,
    Purpose,
    epoch_ms,
)
from payments.clock import epoch, from_epoch
from payments.ledger.records import Applied, ref_key
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts
from payments.store.shards import Shards

OWNER_TTL: Final = 400 * 24 * 3600  # disputes come within 120 days, refunds within 180


class Added(IntEnum):
    ADDED = 1
    ALREADY = 0  # this payment method was saved before
    DUPLICATE = -1  # the same card (fingerprint) is saved under another id


class Removed(IntEnum):
    REMOVED = 1
    UNKNOWN = 0
    KEPT = -1  # the last card, kept


class Begun(IntEnum):
    STARTED = 1
    RESUMED = 0  # this charge was in flight already (a retry after a crash)
    BUSY = -1  # another charge of the account is in flight


@dataclass(frozen=True, slots=True)
class Claim:
    """``autotopup_claim.lua``: a top-up claimed (its number), or why not."""

    number: int
    amount: Money | None
    refused: str = ""  # off, closed, frozen, not_low, declined, cooldown, cap


@dataclass(frozen=True, slots=True)
class Credited:
    """A successful charge as the flows credit it."""

    amount: Money
    reason: str
    ref: str  # stripe:pi_…
    key: str  # the charge's idempotency key
    card: str  # its id
    payment_intent: str
    purpose: Purpose


class CardStore:
    """Amounts are in each account's currency (``Currencies``)."""

    def __init__(
        self, redis: RedisClient, scripts: Scripts, currencies: Currencies, shards: Shards
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._currencies = currencies
        self.shards = shards

    # --- cards and profile ---------------------------------------------------------------

    async def cards(self, jid: str) -> list[Card]:
        raw: Any = await self._redis.hgetall(keys.cards(jid))
        return sorted(
            (Card.decode(i, text) for i, text in raw.items()), key=lambda c: (c.added_at, c.id)
        )

    async def profile(self, jid: str) -> CardProfile:
        raw: Any = await self._redis.hgetall(keys.card_profile(jid))
        return CardProfile.decode(raw, await self._currencies.of(jid))

    async def holders(self, jids: Sequence[str]) -> set[str]:
        """The JIDs among ``jids`` that hold a saved card (one round trip)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid in jids:
                pipe.exists(keys.cards(jid))
            found = await pipe.execute()
        return {jid for jid, there in zip(jids, found, strict=True) if there}

    async def keep_customer(self, jid: str, customer: str) -> str:
        """Record the account's customer unless one is recorded; the one kept."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(keys.card_profile(jid), "customer", customer)
            pipe.hget(keys.card_profile(jid), "customer")
            _, kept = await pipe.execute()
        return str(kept)

    async def add(self, jid: str, card: Card, customer: str) -> tuple[Added, str]:
        args = [card.id, card.encode(), card.fingerprint, customer]
        status, card_id = await self._scripts.call("card_add", self._pair(jid), args)
        return Added(int(status)), str(card_id)

    async def remove(self, jid: str, card_id: str, *, may_be_last: bool) -> tuple[Removed, str]:
        args = [card_id, "1" if may_be_last else "0"]
        status, default = await self._scripts.call("card_remove", self._pair(jid), args)
        return Removed(int(status)), str(default)

    async def set_default(self, jid: str, card_id: str) -> bool:
        return bool(await self._scripts.call("card_default", self._pair(jid), [card_id]))

    def _pair(self, jid: str) -> list[str]:
        return [keys.cards(jid), keys.card_profile(jid)]

    # --- automatic top-up ----------------------------------------------------------------

    async def set_autotopup(self, jid: str, amount: Money, below: Money) -> None:
        """On (or changed): the count of declines starts again; the month's spending stays."""
        mapping = {
            "autotopup_amount": amount.units,
            "autotopup_below": below.units,
            "autotopup_failures": 0,
        }
        # First, in a round trip of its own (a cluster's pipeline runs on several masters
        # in no set order): the chore finds every account that has it on.
        await self._redis.sadd(self.shards.key(keys.AUTOTOPUPS, jid), jid)
        await self._redis.hset(keys.card_profile(jid), mapping=mapping)  # type: ignore[arg-type]

    async def clear_autotopup(self, jid: str) -> bool:
        fields = ("autotopup_amount", "autotopup_below", "autotopup_failures")
        removed = await self._redis.hdel(keys.card_profile(jid), *fields)
        await self._redis.srem(self.shards.key(keys.AUTOTOPUPS, jid), jid)
        return bool(removed)

    async def autotopup_holders(self, shard: int) -> list[str]:
        """The JIDs of one shard with automatic top-up on."""
        found: Any = await self._redis.smembers(keys.shard(keys.AUTOTOPUPS, shard))
        return sorted(found)

    async def claim_autotopup(
        self, jid: str, now: datetime, *, cooldown_s: int, cap: Money, max_failures: int
    ) -> Claim:
        script_keys = [
            keys.card_profile(jid),
            keys.balance_prepaid(jid),
            keys.freezes(jid),
            keys.account(jid),
        ]
        args = [epoch(now), cooldown_s, f"{now:%Y%m}", cap.units, max_failures]
        reply = await self._scripts.call("autotopup_claim", script_keys, args)
        if int(reply[0]) != 1:
            return Claim(0, None, str(reply[1]))
        return Claim(int(reply[1]), Money(int(reply[2]), cap.currency))

    async def release_autotopup(self, jid: str, claim: Claim, month: str) -> bool:
        amount = claim.amount.units if claim.amount else 0
        args = [claim.number, amount, month]
        return bool(await self._scripts.call("autotopup_release", [keys.card_profile(jid)], args))

    async def watch_spending(self, jids: Sequence[str], now: datetime) -> None:
        """After money was taken: the accounts among ``jids`` whose automatic top-up is on
        and whose prepaid balance is now below its threshold are due for one (one command,
        two when some have it on)."""
        if not jids:
            return
        watched = await self._autotopups_among(jids)
        if watched:
            await self.schedule_many(await self.low_balances(watched), now)

    async def _autotopups_among(self, jids: Sequence[str]) -> list[str]:
        """The JIDs among ``jids`` with automatic top-up on: one SMISMEMBER per shard, in
        one round trip."""
        by_shard = self.shards.split(jids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for number, members in by_shard.items():
                pipe.smismember(keys.shard(keys.AUTOTOPUPS, number), members)
            flags = await pipe.execute()
        pairs = zip(by_shard.values(), flags, strict=True)
        return [jid for members, on in pairs for jid, flag in zip(members, on, strict=True) if flag]

    async def low_balances(self, jids: Sequence[str]) -> list[str]:
        """The JIDs among ``jids`` with automatic top-up on whose prepaid balance is below
        its threshold (one round trip)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid in jids:
                pipe.hget(keys.card_profile(jid), "autotopup_below")
                pipe.get(keys.balance_prepaid(jid))
            found = await pipe.execute()
        pairs = zip(found[::2], found[1::2], strict=True)
        return [jid for jid, (below, prepaid) in zip(jids, pairs, strict=True) if
                below is not None and int(prepaid or 0) < int(below)]  # fmt: skip

    # --- the charge in flight --------------------------------------------------------

    async def begin_charge(self, jid: str, request: ChargeRequest, at: datetime) -> Begun:
        pairs = [p for item in request.fields(at).items() for p in item]
        reply = await self._scripts.call(
            "card_charge_begin", [keys.card_charge(jid)], [request.key, *pairs]
        )
        return Begun(int(reply[0]))

    async def in_flight(self, jid: str) -> InFlight | None:
        raw: Any = await self._redis.hgetall(keys.card_charge(jid))
        return InFlight.decode(raw, await self._currencies.of(jid)) if raw else None

    async def credit(self, jid: str, paid: Credited, *, at: datetime, actor: str) -> Applied:
        """A successful charge: credited once per payment, with everything that goes with it
        (``card_credit.lua``)."""
        script_keys = [
            keys.balance_prepaid(jid),
            keys.transactions(jid),
            keys.idempotency(jid),
            keys.card_charge(jid),
            keys.cards(jid),
            keys.card_payments(jid),
            keys.card_profile(jid),
            keys.idempotency_archived(jid),
        ]
        args = [
            paid.amount.units, paid.reason, paid.ref, at.isoformat(), actor, paid.key,
            paid.card, paid.payment_intent, epoch(at), paid.purpose.value, epoch_ms(at),
            ref_key(paid.ref),
        ]  # fmt: skip
        applied, entry_id, after = await self._scripts.call("card_credit", script_keys, args)
        return Applied(bool(applied), str(entry_id), Money(int(after), paid.amount.currency))

    async def fail(self, jid: str, charge: InFlight, why: str, *, at: datetime) -> tuple[bool, int]:
        """A declined charge ended (False when another answer ended it first), and for an
        automatic top-up its declines in a row."""
        script_keys = [keys.card_charge(jid), keys.cards(jid), keys.card_profile(jid)]
        args = [charge.key, charge.card, why, charge.purpose.value, charge.amount.units]
        args += [f"{at:%Y%m}", epoch(at)]
        ended, failures = await self._scripts.call("card_charge_failed", script_keys, args)
        return bool(ended), int(failures)

    async def abandon(self, jid: str, key: str) -> None:
        """A charge the provider never made (looked up there): no longer in flight."""
        await self._scripts.call("card_charge_drop", [keys.card_charge(jid)], [key])

    async def note_owner(self, payment_intent: str, jid: str) -> None:
        """Which account a card payment is for (a refund or a dispute names only it)."""
        await self._redis.set(keys.card_owner(payment_intent), jid, ex=OWNER_TTL)

    async def owner(self, payment_intent: str) -> str | None:
        found: Any = await self._redis.get(keys.card_owner(payment_intent))
        return str(found) if found else None

    # --- scheduled attempts and the schedule -----------------------------------------

    async def attempts(self, jid: str, period: str) -> int:
        """The last scheduled attempt made on that invoice (0: none)."""
        score: Any = await self._redis.zscore(keys.card_attempts(jid), period)
        return int(score or 0)

    async def note_attempt(self, jid: str, period: str, number: int) -> None:
        await self._redis.zadd(keys.card_attempts(jid), {period: number}, gt=True)

    async def schedule(self, jid: str, at: datetime) -> None:
        """Look at ``jid`` from ``at``, or earlier if it was due earlier (ZADD LT)."""
        await self._redis.zadd(self.shards.key(keys.CARD_DUE, jid), {jid: epoch(at)}, lt=True)

    async def schedule_many(self, jids: Sequence[str], at: datetime) -> None:
        """``schedule`` of many JIDs, one command per shard, in one round trip."""
        if not jids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for number, members in self.shards.split(jids).items():
                due = dict.fromkeys(members, epoch(at))
                pipe.zadd(keys.shard(keys.CARD_DUE, number), due, lt=True)
            await pipe.execute()

    async def due(self, until: datetime, count: int, shard: int) -> list[tuple[str, datetime]]:
        """Up to ``count`` JIDs of one shard whose card work is due by ``until``, earliest
        first."""
        key = keys.shard(keys.CARD_DUE, shard)
        raw: Any = await self._redis.zrangebyscore(
            key, "-inf", epoch(until), start=0, num=count, withscores=True
        )
        return [(jid, from_epoch(score)) for jid, score in raw]

    async def done_looking(self, jid: str, seen: datetime, following: datetime | None) -> None:
        """Drop the entry seen at ``seen`` unless someone marked it since, then (when card
        work is still to come) add it at ``following``."""
        due_key = self.shards.key(keys.CARD_DUE, jid)
        await self._scripts.call("zrem_if_score", [due_key], [jid, epoch(seen)])
        if following is not None:
            await self.schedule(jid, following)

"""Moves in Redis: the old account's record (``payment-move-{OLD}``), the global code
(``payment-move_code-{CODE}``), and the scripts of each step, each on one slot:
``move_offer``, ``move_code_create``, ``move_claim``, ``move_reserve``/``move_release``
(the new JID), ``move_seal`` (the old), ``move_arrive`` (the new), ``move_member`` (a
group's list), ``move_payer`` (a leaf of a main that moved), ``move_drop`` (a move that
cannot go on), ``move_done``."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any, Final

from payments import keys
from payments.clock import epoch, month_of, shift_month
from payments.moves.rules import MoveRecord, Snapshot
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts

USAGE_MONTHS: Final = 13  # this month and twelve back: what the account page shows
KEEP_CODE_SECONDS: Final = 30 * 24 * 3600  # after its expiry


class Claimed(IntEnum):
    """What ``lua/move_claim.lua`` answers."""

    CLAIMED = 1
    BEFORE = 0  # claimed by this JID before, or under way: go on
    UNKNOWN = -1
    EXPIRED = -2
    DONE = -3


class Sealed(IntEnum):
    SEALED = 1
    BEFORE = 0
    DONE = 2
    REFUSED = -1


class MoveStore:
    def __init__(self, redis: RedisClient, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def record(self, old: str) -> MoveRecord | None:
        fields: Any = await self._redis.hgetall(keys.move(old))
        return MoveRecord.decode(fields) if fields else None

    async def offer(
        self,
        old: str,
        move_id: str,
        new: str,
        at: datetime,
        expires: datetime,
        *,
        code: str,
        by: str,
    ) -> int:
        args = [move_id, new, code, at.isoformat(), epoch(expires), by]
        script_keys = [keys.move(old), keys.account(old)]
        return int(await self._scripts.call("move_offer", script_keys, args))

    async def old_of(self, code: str) -> str:
        """The old JID a move code was made for ('' for none)."""
        old: Any = await self._redis.hget(keys.move_code(code), "old")
        return str(old or "")

    async def claim(self, old: str, move_id: str, new: str, now: datetime) -> Claimed:
        args = [move_id, new, epoch(now), now.isoformat()]
        return Claimed(int(await self._scripts.call("move_claim", [keys.move(old)], args)))

    async def create_code(
        self, code: str, old: str, new: str, at: datetime, expires: datetime
    ) -> bool:
        lifetime = epoch(expires) - epoch(at) + KEEP_CODE_SECONDS
        args = [old, new, at.isoformat(), epoch(expires), lifetime]
        return bool(await self._scripts.call("move_code_create", [keys.move_code(code)], args))

    async def reserve(self, new: str, move_id: str, old: str, at: datetime, currency: str) -> int:
        script_keys = [
            keys.account(new), keys.transactions(new), keys.leaf_jids_index(new),
            keys.group_move(new), keys.credit_grants(new),
        ]  # fmt: skip
        args = [move_id, old, at.isoformat(), currency]
        return int(await self._scripts.call("move_reserve", script_keys, args))

    async def held_for(self, new: str) -> tuple[str, str]:
        """(old JID, move id) of the move a JID is held for ('' when none)."""
        old, move_id = await self._redis.hmget(keys.account(new), ["moving_from", "move_id"])
        return str(old or ""), str(move_id or "")

    async def release(self, new: str, move_id: str, at: datetime) -> bool:
        script_keys = [keys.account(new), keys.transactions(new)]
        args = [move_id, at.isoformat()]
        return bool(await self._scripts.call("move_release", script_keys, args))

    async def seal(
        self, old: str, move_id: str, new: str, at: datetime, actor: str
    ) -> tuple[Sealed, str]:
        """``lua/move_seal.lua`` as the account reads now: (what it said, the snapshot or why)."""
        plan_as_of: Any = await self._redis.hget(keys.account(old), "plan_as_of")
        periods: Any = await self._redis.zrange(keys.invoices(old), 0, -1)
        months = usage_months(at)
        plans = sorted({*months, *([plan_as_of] if plan_as_of else [])})
        script_keys = [
            keys.account(old), keys.freezes(old), keys.balance_prepaid(old),
            keys.balance_voucher(old), keys.transactions(old), keys.move(old), keys.invoices(old),
            keys.invoices_open(old), keys.credit_grants(old), keys.credit_pending(old),
            keys.autobuy(old), keys.credit_transfers(old), keys.usage_open(old),
            keys.usage_slot(old), keys.leaf_jids_index(old), keys.group_move(old),
            keys.group_joins(old), keys.notify_off(old), keys.referrals(old),
            *[keys.plan_as_of(old, m) for m in plans], *[keys.invoice(old, p) for p in periods],
            *[keys.usage(old, m) for m in months],
        ]  # fmt: skip
        args = [
            move_id, new, at.isoformat(), actor, len(plans), len(periods), len(months),
            *plans, *periods, *months,
        ]  # fmt: skip
        status, text = await self._scripts.call("move_seal", script_keys, args)
        return Sealed(int(status)), str(text)

    async def arrive(
        self, new: str, move_id: str, old: str, snapshot: Snapshot, at: datetime, actor: str
    ) -> int:
        plans, periods, months = snapshot.plans, snapshot.invoices, snapshot.usage
        script_keys = [
            keys.account(new), keys.freezes(new), keys.balance_prepaid(new),
            keys.balance_voucher(new), keys.transactions(new), keys.idempotency(new),
            keys.invoices(new), keys.invoices_open(new), keys.credit_grants(new),
            keys.credit_pending(new), keys.autobuy(new), keys.usage_open(new),
            keys.usage_slot(new), keys.leaf_jids_index(new), keys.notify_off(new),
            keys.referrals(new),
            *[keys.plan_as_of(new, m) for m in plans], *[keys.invoice(new, p) for p in periods],
            *[keys.usage(new, m) for m in months],
        ]  # fmt: skip
        args = [
            move_id, old, at.isoformat(), actor, snapshot.raw, len(plans), len(periods),
            len(months), *plans, *periods, *months,
        ]  # fmt: skip
        return int(await self._scripts.call("move_arrive", script_keys, args))

    async def replace_member(self, index: str, old: str, new: str) -> bool:
        args = [old, new]
        return bool(await self._scripts.call("move_member", [keys.leaf_jids(index)], args))

    async def repoint_leaf(self, leaf: str, old: str, new: str) -> bool:
        """A leaf of a main that moved is paid for by its new JID (False: read again)."""
        month: Any = await self._redis.hget(keys.account(leaf), "plan_as_of")
        script_keys = [keys.account(leaf), keys.plan_as_of(leaf, month or ""), keys.freezes(leaf)]
        return bool(await self._scripts.call("move_payer", script_keys, [old, new, month or ""]))

    async def drop(self, old: str, move_id: str) -> bool:
        return bool(await self._scripts.call("move_drop", [keys.move(old)], [move_id]))

    async def done(self, old: str, move_id: str, at: datetime) -> bool:
        args = [move_id, at.isoformat()]
        return bool(await self._scripts.call("move_done", [keys.move(old)], args))


def usage_months(at: datetime) -> list[str]:
    """The months of usage counters a move carries (as the account page shows them)."""
    return [shift_month(month_of(at), -back) for back in range(USAGE_MONTHS)]

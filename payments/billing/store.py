"""Billing in Redis: charges, invoices, activation, renewal dates and the chores' schedules.

Each change of one account is one Lua script over that account's keys
(``{JID}``); the global schedules (``payment-renewals`` ...) are indexes
written as separate, idempotent steps after the account changed, and
repaired by the chores when a crash left them stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from redis.asyncio import Redis

from payments import keys
from payments.accounts.records import Account
from payments.billing.rules import (
    BillingState,
    ChargeLine,
    ChargeSplit,
    Invoice,
    Snapshot,
    Subscriber,
)
from payments.catalog.records import Plan
from payments.clock import epoch, from_epoch, month_of
from payments.money import Money
from payments.store.scripts import Scripts

MAX_INVOICES_SHOWN: Final = 24


@dataclass(frozen=True, slots=True)
class LineCharged:
    applied: bool  # False: this (period, member) was charged before; the split is that one's
    split: ChargeSplit
    invoice_due: Money  # what the period's invoice owes after this line
    balance: Money  # voucher + prepaid of the payer after this line


@dataclass(frozen=True, slots=True)
class Settled:
    period: str
    paid: bool  # True: this call paid it
    voucher: Money
    prepaid: Money
    missing: Money  # when refused: what the balances lack
    open_left: int


class BillingStore:
    def __init__(self, redis: Redis, scripts: Scripts, currency: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currency = currency

    def money(self, units: int) -> Money:
        return Money(units, self.currency)

    # --- reads ----------------------------------------------------------------

    async def subscriber(self, jid: str) -> Subscriber | None:
        """The account, its billing fields and its group, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.account(jid))
            pipe.hgetall(keys.freezes(jid))
            pipe.get(keys.leaf_jids_index(jid))
            fields, freezes, group = await pipe.execute()
        if not fields:
            return None
        return Subscriber(
            Account.decode(jid, fields, freezes), BillingState.decode(jid, fields), group or ""
        )

    async def snapshot(self, jid: str, yyyymm: str) -> Snapshot | None:
        if not yyyymm:
            return None
        fields: Any = await self._redis.hgetall(keys.plan_as_of(jid, yyyymm))
        return Snapshot.decode(fields, self.currency) if fields else None

    async def current_snapshot(self, jid: str) -> Snapshot | None:
        """The newest snapshot (the one the account's ``plan_as_of`` names)."""
        yyyymm: Any = await self._redis.hget(keys.account(jid), "plan_as_of")
        return await self.snapshot(jid, yyyymm or "")

    async def open_invoices(self, jid: str) -> list[tuple[str, Money]]:
        """(period, amount due) of every open invoice, smallest first."""
        raw: Any = await self._redis.zrange(keys.invoices_open(jid), 0, -1, withscores=True)
        return [(period, self.money(int(score))) for period, score in raw]

    async def owed(self, jid: str) -> Money:
        return sum((due for _, due in await self.open_invoices(jid)), self.money(0))

    async def invoice(self, jid: str, period: str) -> Invoice | None:
        fields: Any = await self._redis.hgetall(keys.invoice(jid, period))
        return Invoice.decode(jid, period, fields, self.currency) if fields else None

    async def invoices(self, jid: str, count: int = MAX_INVOICES_SHOWN) -> list[Invoice]:
        """The newest ``count`` invoices, newest first (one per period renewed)."""
        periods: Any = await self._redis.zrevrange(keys.invoices(jid), 0, count - 1)
        async with self._redis.pipeline(transaction=False) as pipe:
            for period in periods:
                pipe.hgetall(keys.invoice(jid, period))
            rows = await pipe.execute()
        return [
            Invoice.decode(jid, period, fields, self.currency)
            for period, fields in zip(periods, rows, strict=True)
            if fields
        ]

    # --- account changes (one script each, one account each) -------------------

    async def charge_line(
        self, payer: str, period: str, line: ChargeLine, *, at: datetime, actor: str
    ) -> LineCharged:
        """Charge one line once per (period, member); see ``lua/charge.lua``."""
        reason = f"{line.plan} {period[:4]}-{period[4:]}"
        if line.member != payer:
            reason += f" for {line.member}"
        result = await self._scripts.call(
            "charge",
            [
                keys.balance_voucher(payer),
                keys.balance_prepaid(payer),
                keys.transactions(payer),
                keys.idempotency(payer),
                keys.invoice(payer, period),
                keys.invoices(payer),
                keys.invoices_open(payer),
                keys.account(payer),
            ],
            [period, line.member, line.plan, line.amount.units, at.isoformat(), actor, reason],
        )
        applied, voucher, prepaid, owed, due, left = (int(v) for v in result)
        split = ChargeSplit(self.money(voucher), self.money(prepaid), self.money(owed))
        return LineCharged(bool(applied), split, self.money(due), self.money(left))

    async def settle(self, jid: str, period: str, *, at: datetime, actor: str) -> Settled:
        """Pay one open invoice in full from the balances, or nothing; see ``lua/settle.lua``."""
        status, first, second, left = await self._scripts.call(
            "settle",
            [
                keys.balance_voucher(jid),
                keys.balance_prepaid(jid),
                keys.transactions(jid),
                keys.idempotency(jid),
                keys.invoice(jid, period),
                keys.invoices_open(jid),
                keys.account(jid),
            ],
            [period, at.isoformat(), actor, f"invoice {period[:4]}-{period[4:]} paid"],
        )
        zero = self.money(0)
        if int(status) == -1:
            return Settled(period, False, zero, zero, self.money(int(first)), int(left))
        paid = int(status) == 1
        return Settled(
            period, paid, self.money(int(first)), self.money(int(second)), zero, int(left)
        )

    async def activate(self, jid: str, plan: Plan, *, at: datetime, renewal_day: int) -> bool:
        """Trial -> paid on ``plan`` at its current price, due for renewal at ``at``."""
        yyyymm = month_of(at)
        done = await self._scripts.call(
            "activate",
            [keys.account(jid), keys.plan_as_of(jid, yyyymm)],
            [at.isoformat(), yyyymm, plan.id, plan.version, plan.price.units, renewal_day],
        )
        return bool(done)

    async def apply_next_plan(self, jid: str, chosen: str, period: str, plan: Plan) -> bool:
        done = await self._scripts.call(
            "apply_plan",
            [keys.account(jid), keys.plan_as_of(jid, period)],
            [chosen, period, plan.id, plan.version, plan.price.units],
        )
        return bool(done)

    async def set_next_plan(self, jid: str, plan_id: str) -> bool:
        return bool(await self._scripts.call("set_next_plan", [keys.account(jid)], [plan_id]))

    async def finish_renewal(
        self, jid: str, billed: datetime, following: datetime, period: str
    ) -> bool:
        """Move the renewal date from ``billed`` to ``following`` (compare-and-set), then
        reschedule: two steps (the account, the global schedule) in one round trip.

        The schedule entry is written even when the date had moved already: it
        is ``following`` either way, and rewriting it repairs a crash that fell
        between the two.
        """
        args = [billed.isoformat(), following.isoformat(), period]
        async with self._redis.pipeline(transaction=False) as pipe:
            await self._scripts.call("finish_renewal", [keys.account(jid)], args, client=pipe)
            pipe.zadd(keys.RENEWALS, {jid: epoch(following)})
            moved, _ = await pipe.execute()
        return bool(moved)

    async def close(self, jid: str, *, at: datetime, why: str) -> str | None:
        """Close once; the number released ('' when none), None when it was closed already."""
        number = await self._scripts.call("close", [keys.account(jid)], [at.isoformat(), why])
        return None if number is None else str(number)

    # --- the chores' schedules (global sorted sets of JIDs) --------------------

    async def schedule(self, schedule: str, jid: str, at: datetime, *, nx: bool = False) -> None:
        await self._redis.zadd(schedule, {jid: epoch(at)}, nx=nx)

    async def unschedule(self, schedule: str, jid: str) -> None:
        await self._redis.zrem(schedule, jid)

    async def due(
        self,
        schedule: str,
        until: datetime,
        count: int,
        *,
        since: datetime | None = None,
        offset: int = 0,
    ) -> list[tuple[str, datetime]]:
        """``count`` JIDs whose time is in ``(since, until]``, earliest first, from ``offset``."""
        low = "-inf" if since is None else f"({epoch(since)}"
        raw: Any = await self._redis.zrangebyscore(
            schedule, low, epoch(until), start=offset, num=count, withscores=True
        )
        return [(jid, from_epoch(score)) for jid, score in raw]

    async def scheduled_at(self, schedule: str, jid: str) -> datetime | None:
        score: Any = await self._redis.zscore(schedule, jid)
        return None if score is None else from_epoch(score)

    async def count(self, schedule: str) -> int:
        return int(await self._redis.zcard(schedule))

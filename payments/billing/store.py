"""Billing in Redis: renewals, invoices, settlement, activation, closure, the schedules.

Each change of one account is one Lua script over that account's keys
(``{JID}``), checked against the state at commit. The global schedules
(``payment-renewals`` ...) are indexes of when to look at an account: an
entry may be early (the chore that reads it checks the account and moves
or drops it), never late, so an entry is written before the change that
makes it due, or in the same round trip; the repair chore rebuilds them
all from the accounts' own state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, Final

from redis.asyncio import Redis

from payments import keys
from payments.accounts.records import Account, FreezeKind, FreezeRecord
from payments.billing.repair_view import RepairView
from payments.billing.rules import (
    BillingState,
    ChargeLine,
    ChargeSplit,
    Invoice,
    RenewalDates,
    Snapshot,
    Subscriber,
)
from payments.catalog.records import Plan
from payments.clock import epoch, month_label, month_of
from payments.money import Money
from payments.store.scripts import Scripts
from payments.usage.store import decode_grants

MAX_INVOICES_SHOWN: Final = 24


class RenewStatus(IntEnum):
    """What ``renew.lua`` answers (its first value)."""

    RENEWED = 1
    CHANGED = 0  # the account changed since it was read: read it again
    HELD = -1  # billing-frozen: the renewal waits for the freeze to be lifted
    NOT_RENEWING = -2  # not an active paid account


@dataclass(frozen=True, slots=True)
class RenewalRequest:
    """One period to renew, as decided from what was read (``fields``: the account's hash)."""

    jid: str
    fields: Mapping[str, str]
    dates: RenewalDates
    leaves: tuple[ChargeLine, ...]
    switch_to: Plan | None  # the plan chosen with `plan ID`, still on offer
    at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class Renewal:
    status: RenewStatus
    due: Money  # owed on the period's invoice
    balance: Money  # voucher + prepaid after
    lines: tuple[tuple[ChargeLine, ChargeSplit], ...]  # charged by this call


def _charged_line(reply: Sequence[Any], currency: str) -> tuple[ChargeLine, ChargeSplit]:
    member, plan, amount, voucher, prepaid = reply
    total = Money(int(amount), currency)
    split = ChargeSplit(
        Money(int(voucher), currency),
        Money(int(prepaid), currency),
        total - Money(int(voucher) + int(prepaid), currency),
    )
    return ChargeLine(str(member), str(plan), total), split


@dataclass(frozen=True, slots=True)
class Activated:
    done: bool
    lifted: FreezeRecord | None  # the freeze of an ended trial, lifted with the activation


@dataclass(frozen=True, slots=True)
class Settled:
    period: str
    paid: bool  # True: this call paid it
    voucher: Money
    prepaid: Money
    missing: Money  # when refused: what the balances lack
    open_left: int
    lifted: FreezeRecord | None = None  # the billing freeze lifted with the last open invoice


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
            Account.decode(jid, fields, freezes),
            BillingState.decode(jid, fields),
            group or "",
            fields,
        )

    async def repair_view(self, jid: str) -> RepairView:
        """Everything the repair looks at of one account, in one round trip."""
        schedules = (
            keys.RENEWALS,
            keys.UNPAID,
            keys.BILLING_FROZEN,
            keys.TRIAL_ENDS,
            keys.CREDIT_EXPIRIES,
            keys.USAGE_UNSETTLED,
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.account(jid))
            pipe.hgetall(keys.freezes(jid))
            pipe.zcard(keys.invoices_open(jid))
            pipe.exists(keys.group_move(jid))
            pipe.scard(keys.group_joins(jid))
            pipe.get(keys.leaf_jids_index(jid))
            pipe.get(keys.balance_prepaid(jid))
            pipe.hgetall(keys.credit_grants(jid))
            pipe.scard(keys.usage_open(jid))
            for schedule in schedules:
                pipe.zscore(schedule, jid)
            replies = await pipe.execute()
        account, freezes, owed, move, joins, group, prepaid, grants, usage, *scores = replies
        main: Any = await self._redis.lindex(keys.leaf_jids(group), 0) if group else ""
        live = [g.expires_at for g in decode_grants(grants, self.currency) if g.left > 0]
        return RepairView(
            jid,
            account,
            freezes,
            int(owed),
            bool(move),
            int(joins),
            group or "",
            main or "",
            int(prepaid or 0),
            tuple(sorted(live))[:1],
            int(usage),
            dict(zip(schedules, scores, strict=True)),
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

    async def renew(self, request: RenewalRequest) -> Renewal:
        """One period of one account in one atomic step (``lua/renew.lua``), in the same
        round trip as its entry in the unpaid schedule (written first: the freeze chore
        drops it after the grace if nothing is owed, so a debt is never missed)."""
        jid, dates, at = request.jid, request.dates, request.at
        fields = request.fields
        plan = request.switch_to
        leaves = [
            part for line in request.leaves for part in (line.member, line.plan, line.amount.units)
        ]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(keys.UNPAID, {jid: epoch(at)}, lt=True)
            await self._scripts.call(
                "renew",
                [
                    keys.account(jid),
                    keys.freezes(jid),
                    keys.balance_voucher(jid),
                    keys.balance_prepaid(jid),
                    keys.transactions(jid),
                    keys.idempotency(jid),
                    keys.invoice(jid, dates.period),
                    keys.invoices(jid),
                    keys.invoices_open(jid),
                    keys.plan_as_of(jid, dates.period),
                    keys.autobuy(jid),
                    keys.credit_grants(jid),
                    keys.plan_as_of(jid, fields.get("plan_as_of", "")),
                ],
                [
                    fields.get("next_renewal_at", ""),
                    fields.get("renewal_held", ""),
                    fields.get("plan_as_of", ""),
                    fields.get("next_plan", ""),
                    dates.period,
                    dates.following.isoformat(),
                    dates.renewal_day or "",
                    at.isoformat(),
                    epoch(at),
                    request.actor,
                    plan.id if plan else "",
                    plan.version if plan else "",
                    plan.price.units if plan else "",
                    len(request.leaves),
                    *leaves,
                ],
                client=pipe,
            )
            _, reply = await pipe.execute()
        status, due, balance, *lines = reply
        return Renewal(
            RenewStatus(int(status)),
            self.money(int(due)),
            self.money(int(balance)),
            tuple(_charged_line(line, self.currency) for line in lines),
        )

    async def settle(self, jid: str, period: str, *, at: datetime, actor: str) -> Settled:
        """Pay one open invoice in full from the balances, or nothing; see ``lua/settle.lua``."""
        status, first, second, left, lifted = await self._scripts.call(
            "settle",
            [
                keys.balance_voucher(jid),
                keys.balance_prepaid(jid),
                keys.transactions(jid),
                keys.idempotency(jid),
                keys.invoice(jid, period),
                keys.invoices_open(jid),
                keys.account(jid),
                keys.freezes(jid),
                keys.credit_grants(jid),
            ],
            [period, at.isoformat(), actor, f"invoice {month_label(period)} paid"],
        )
        zero = self.money(0)
        record = FreezeRecord.decode(FreezeKind.BILLING.value, lifted) if lifted else None
        if int(status) == -1:
            return Settled(period, False, zero, zero, self.money(int(first)), int(left))
        return Settled(
            period,
            int(status) == 1,
            self.money(int(first)),
            self.money(int(second)),
            zero,
            int(left),
            record,
        )

    async def activate(
        self, jid: str, plan: Plan, *, at: datetime, renewal_day: int, activation: Money
    ) -> Activated:
        """Trial -> paid on ``plan`` at its current price, due for renewal at ``at``, if its
        prepaid balance still holds ``activation``; lifts an ended trial's freeze."""
        yyyymm = month_of(at)
        done, lifted = await self._scripts.call(
            "activate",
            [
                keys.account(jid),
                keys.plan_as_of(jid, yyyymm),
                keys.balance_prepaid(jid),
                keys.freezes(jid),
                keys.invoices_open(jid),
            ],
            [
                at.isoformat(),
                yyyymm,
                plan.id,
                plan.version,
                plan.price.units,
                renewal_day,
                activation.units,
            ],
        )
        record = FreezeRecord.decode(FreezeKind.BILLING.value, lifted) if lifted else None
        return Activated(bool(done), record)

    async def set_next_plan(self, jid: str, plan_id: str) -> bool:
        return bool(await self._scripts.call("set_next_plan", [keys.account(jid)], [plan_id]))

    async def close(self, jid: str, record: FreezeRecord, *, at: datetime) -> str | None:
        """Close for the debt ``record`` froze it for, if that still holds at commit
        (``lua/close.lua``); the number released ('' when none), None when not closed."""
        number = await self._scripts.call(
            "close",
            [keys.account(jid), keys.freezes(jid)],
            [at.isoformat(), record.why, record.encode()],
        )
        return None if number is None else str(number)

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

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any, Final

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
from payments.clock import epoch, from_epoch, month_label, month_of, parse_instant
from payments.ledger.archive import LedgerArchive, Record
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.currencies import FIELD as CURRENCY
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts
from payments.store.shards import Shards
from payments.usage.store import decode_grants

MAX_INVOICES_SHOWN: Final = 24


class RenewStatus(IntEnum):
    """What ``renew.lua`` answers (its first value)."""

    RENEWED = 1
    CHANGED = 0  # the account changed since it was read: read it again
    HELD = -1  # billing-frozen: the renewal waits for the freeze to be lifted
    NOT_RENEWING = -2  # not an active paid account
    NOT_DUE = -3  # (the fast path) not due yet: ``following`` says when it is
    NEEDS_READ = -4  # (the fast path) leaves, a plan chosen, a held renewal: read it first


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
    following: datetime | None = None  # the next renewal (NOT_DUE: when it is due)
    unpaid_since: datetime | None = None  # after this renewal
    first: bool = False  # the first renewal since the activation


def _renew_keys(jid: str, period: str, snapshot: str) -> list[str]:
    return [
        keys.account(jid),
        keys.freezes(jid),
        keys.balance_voucher(jid),
        keys.balance_prepaid(jid),
        keys.transactions(jid),
        keys.idempotency(jid),
        keys.invoice(jid, period),
        keys.invoices(jid),
        keys.invoices_open(jid),
        keys.plan_as_of(jid, period),
        keys.autobuy(jid),
        keys.credit_grants(jid),
        keys.plan_as_of(jid, snapshot),
        keys.leaf_jids_index(jid),
    ]


def _renew_call(request: RenewalRequest) -> tuple[list[str], list[Any]]:
    """The keys and arguments of ``lua/renew.lua`` for one request, as read."""
    dates, fields, plan = request.dates, request.fields, request.switch_to
    leaves = [p for line in request.leaves for p in (line.member, line.plan, line.amount.units)]
    args: list[Any] = [
        "read",
        request.at.isoformat(),
        epoch(request.at),
        request.actor,
        fields.get("next_renewal_at", ""),
        fields.get("renewal_held", ""),
        fields.get("plan_as_of", ""),
        fields.get("next_plan", ""),
        dates.period,
        dates.following.isoformat(),
        epoch(dates.following),
        dates.renewal_day or "",
        plan.id if plan else "",
        plan.version if plan else "",
        plan.price.units if plan else "",
        len(request.leaves),
        *leaves,
    ]
    return _renew_keys(request.jid, dates.period, fields.get("plan_as_of", "")), args


def _renew_due_calls(
    due: Sequence[tuple[str, datetime]], at: datetime, actor: str
) -> list[tuple[list[str], list[Any]]]:
    """The keys and arguments of ``lua/renew.lua`` in 'due' mode for each (JID, time due)."""
    at_iso, at_unix = at.isoformat(), epoch(at)
    periods: dict[datetime, str] = {}  # a page of a schedule holds few distinct times
    calls = []
    for jid, when in due:
        period = periods.get(when) or periods.setdefault(when, month_of(when))
        calls.append((_renew_keys(jid, period, period), ["due", at_iso, at_unix, actor, period]))
    return calls


class Amounts(dict[tuple[int, str], Money]):
    """One ``Money`` per distinct (units, currency) of a batch of replies: a page's amounts
    repeat (its prices, zero), and a Money is immutable."""

    def __missing__(self, key: tuple[int, str]) -> Money:
        money = self[key] = Money(*key)
        return money


def _charged_line(
    reply: Sequence[Any], currency: str, amounts: Amounts
) -> tuple[ChargeLine, ChargeSplit]:
    member, plan, amount, voucher, prepaid = reply
    split = ChargeSplit(
        amounts[voucher, currency],
        amounts[prepaid, currency],
        amounts[amount - voucher - prepaid, currency],
    )
    return ChargeLine(member, plan, amounts[amount, currency]), split


def _scored(members: Sequence[str], score: int) -> list[str | int]:
    """ZADD's arguments: score, member, score, member ..."""
    return [part for member in members for part in (score, member)]


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
    """Amounts are in each account's currency (``Currencies``), read with them; paid
    invoices of months the ledger archive holds are read from it (``archive``)."""

    def __init__(
        self,
        redis: RedisClient,
        scripts: Scripts,
        currencies: Currencies,
        shards: Shards,
        archive: LedgerArchive | None = None,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies
        self._shards = shards
        self._archive = archive

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
        account = Account.decode(jid, fields, freezes, self.currencies.default)
        return Subscriber(account, BillingState.decode(jid, fields), group or "", fields)

    async def repair_view(self, jid: str) -> RepairView:
        """Everything the repair looks at of one account, in one round trip."""
        schedules = (
            keys.RENEWALS,
            keys.UNPAID,
            keys.BILLING_FROZEN,
            keys.TRIAL_ENDS,
            keys.CREDIT_EXPIRIES,
            keys.USAGE_UNSETTLED,
            keys.CARD_DUE,
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
            pipe.hlen(keys.cards(jid))
            pipe.hget(keys.move(jid), "state")
            for schedule in schedules:
                pipe.zscore(self._shards.key(schedule, jid), jid)
            replies = await pipe.execute()
        account, freezes, owed, move, joins, group, prepaid, grants, usage = replies[:9]
        cards, moving = replies[9:11]
        scores = replies[11:]
        main: Any = await self._redis.lindex(keys.leaf_jids(group), 0) if group else ""
        currency = self.currencies.of_field(account.get(CURRENCY))
        live = [g.expires_at for g in decode_grants(grants, currency) if g.left > 0]
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
            moving or "",
            dict(zip(schedules, scores, strict=True)),
            int(cards),
        )

    async def snapshot(self, jid: str, yyyymm: str) -> Snapshot | None:
        if not yyyymm:
            return None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.plan_as_of(jid, yyyymm))
            self.currencies.queue(pipe, jid)
            fields, currency = await pipe.execute()
        return Snapshot.decode(fields, self.currencies.of_field(currency)) if fields else None

    async def current_snapshot(self, jid: str) -> Snapshot | None:
        """The newest snapshot (the one the account's ``plan_as_of`` names)."""
        month: Any = await self._redis.hget(keys.account(jid), "plan_as_of")
        return await self.snapshot(jid, month or "")

    async def invoices_of(self, wanted: Sequence[tuple[str, str]]) -> list[Invoice | None]:
        """The invoice of each (JID, period), in one round trip."""
        if not wanted:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid, period in wanted:
                pipe.hgetall(keys.invoice(jid, period))
                self.currencies.queue(pipe, jid)
            found = await pipe.execute()
        return [
            Invoice.decode(jid, period, fields, self.currencies.of_field(currency))
            if fields
            else None
            for (jid, period), fields, currency in zip(wanted, found[::2], found[1::2], strict=True)
        ]

    async def open_invoices(self, jid: str) -> list[tuple[str, Money]]:
        """(period, amount due) of every open invoice, smallest first."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrange(keys.invoices_open(jid), 0, -1, withscores=True)
            self.currencies.queue(pipe, jid)
            raw, field = await pipe.execute()
        currency = self.currencies.of_field(field)
        return [(period, Money(int(score), currency)) for period, score in raw]

    async def owed(self, jid: str) -> Money:
        found = await self.open_invoices(jid)
        zero = Money.zero(found[0][1].currency if found else await self.currencies.of(jid))
        return sum((due for _, due in found), zero)

    async def invoice(self, jid: str, period: str) -> Invoice | None:
        found = (await self.invoices_of([(jid, period)]))[0]
        if found is None and (archived := (await self._archived_invoices(jid)).get(period)):
            return archived
        return found

    async def invoices(self, jid: str, count: int = MAX_INVOICES_SHOWN) -> list[Invoice]:
        """The newest ``count`` invoices, newest first (one per period renewed), from Redis
        and then, for older ones, from the archive."""
        periods: Any = await self._redis.zrevrange(keys.invoices(jid), 0, count - 1)
        found = [i for i in await self.invoices_of([(jid, p) for p in periods]) if i is not None]
        if len(periods) < count:
            archived = await self._archived_invoices(jid)
            older = sorted((p for p in archived if p not in periods), reverse=True)
            found += [archived[p] for p in older[: count - len(found)]]
        return found

    async def _archived_invoices(self, jid: str) -> dict[str, Invoice]:
        if self._archive is None:
            return {}
        records = await asyncio.to_thread(self._archive.invoices, jid)
        return {
            period: Invoice.decode(jid, period, record.fields, record.currency)
            for period, record in records.items()
        }

    # --- the archive (the archive-ledger chore) ----------------------------------------

    async def archivable_invoices(self, jid: str, before: str) -> list[Record]:
        """The paid invoices of periods before ``before`` (YYYYMM): (period, fields). The
        invoice of the account's last period renewed stays in Redis, with the account
        (a move carries it to the new JID; a renewed period always has its invoice)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(keys.invoices(jid), "-inf", f"({before}")
            pipe.hget(keys.account(jid), "last_period")
            periods, last = await pipe.execute()
        periods = [period for period in periods if period != last]
        async with self._redis.pipeline(transaction=False) as pipe:
            for period in periods:
                pipe.hgetall(keys.invoice(jid, period))
            rows: list[Any] = await pipe.execute()
        return [
            (period, fields)
            for period, fields in zip(periods, rows, strict=True)
            if fields.get("status") == "paid" and fields.get("due") == "0"
        ]

    async def drop_archived_invoices(self, jid: str, periods: Sequence[str]) -> int:
        """Drop paid invoices now in the archive (``lua/invoice_archive.lua``)."""
        if not periods:
            return 0
        invoice_keys = [keys.invoice(jid, period) for period in periods]
        return int(
            await self._scripts.call(
                "invoice_archive", [keys.invoices(jid), *invoice_keys], list(periods)
            )
        )

    # --- account changes (one script each, one account each) -------------------

    async def renew(self, request: RenewalRequest) -> Renewal:
        """One period of one account in one atomic step (``lua/renew.lua``, as read), after
        the entry of the unpaid schedule (written first: the freeze chore drops an entry
        after the grace if nothing is owed, so a debt is never missed)."""
        return (await self._renew(request.at, [request.jid], [_renew_call(request)]))[0]

    async def renew_due(
        self, due: Sequence[tuple[str, datetime]], *, at: datetime, actor: str
    ) -> list[Renewal]:
        """The renew chore's fast path: ``lua/renew.lua`` decides each account from its own
        state, with no read before (``due``: each JID with its schedule's time, which names
        the period's keys; a JID whose state says otherwise answers NOT_DUE or NEEDS_READ)."""
        return await self._renew(at, [jid for jid, _ in due], _renew_due_calls(due, at, actor))

    async def _renew(
        self, at: datetime, jids: Sequence[str], calls: Sequence[tuple[list[str], list[Any]]]
    ) -> list[Renewal]:
        if not calls:
            return []
        # The unpaid entries first (``call_many``: before the renewals, in the same round trip
        # on one node, in one of their own on a cluster).
        when = epoch(at)
        unpaid = [
            ("ZADD", keys.shard(keys.UNPAID, number), "LT", *_scored(members, when))
            for number, members in self._shards.split(jids).items()
        ]
        replies = await self._scripts.call_many("renew", calls, before=unpaid)
        amounts = Amounts()
        return [self._renewal(reply, amounts) for reply in replies]

    def _renewal(self, reply: Sequence[Any], amounts: Amounts) -> Renewal:
        status, due, balance, following, since, first, field, *lines = reply
        currency = self.currencies.of_field(field)  # fixed by the first money
        return Renewal(
            RenewStatus(status),
            amounts[due, currency],
            amounts[balance, currency],
            tuple([_charged_line(line, currency, amounts) for line in lines]),
            from_epoch(following) if following else None,
            parse_instant(since),
            bool(first),
        )

    async def settle(self, jid: str, period: str, *, at: datetime, actor: str) -> Settled:
        """Pay one open invoice in full from the balances, or nothing; see ``lua/settle.lua``."""
        status, first, second, left, lifted = await self._scripts.call(
            "settle",
            [  # its own balances in its own currency: nothing here to check
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
        currency = await self.currencies.of(jid)
        zero = Money.zero(currency)
        record = FreezeRecord.decode(FreezeKind.BILLING.value, lifted) if lifted else None
        if int(status) == -1:
            return Settled(period, False, zero, zero, Money(int(first), currency), int(left))
        return Settled(
            period,
            int(status) == 1,
            Money(int(first), currency),
            Money(int(second), currency),
            zero,
            int(left),
            record,
        )

    async def activate(
        self, jid: str, plan: Plan, *, at: datetime, renewal_day: int, activation: Money
    ) -> Activated:
        """Trial -> paid on ``plan`` at its price (the view in the account's currency, checked
        at commit), due for renewal at ``at``, if its prepaid balance still holds
        ``activation``; lifts an ended trial's freeze."""
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
                epoch(at),
                plan.price.currency,
                self.currencies.default,
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

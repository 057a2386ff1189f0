"""Usage counters in Redis: counting events once, leaf draws on a main, settlement.

Each step is one Lua script over one account's keys (``{JID}``): counting a
batch (``usage_count.lua``), putting a leaf's draws on its main's credits
(``usage_draw.lua``, on the main), settling a slot (``usage_settle.lua``).
Authorize reads what it needs in one round trip (``usage_standing.lua``: the
account, its freezes, this month's counter, its credits and the plan snapshot in
force), and a leaf its main's credits in a second (``authorizing``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from payments import keys
from payments.clock import epoch, month_of, month_start, shift_month
from payments.store.coalesced import Coalesced
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts
from payments.store.shards import Shards
from payments.usage.credits import Grant
from payments.usage.rules import UsageEvent, event_day, event_key, window_days

USAGE_MONTHS_KEPT: Final = 13  # a month's counters outlive it by a year: `history`, `usage`
EVENTS_GRACE: Final = timedelta(days=2)  # event ids outlive the window by this much
MIN_TTL: Final = 24 * 3600
PAGE: Final = 1000
MONTHS_PROBED: Final = 240  # the plan in force in a month: snapshots looked for this far back
MONTH_MARK: Final = "\0"  # never in a key: where the month goes in plan_as_of's name
DAY_MARK: Final = "\0"  # the same, where the day goes in usage_events' name


@dataclass(frozen=True, slots=True)
class AccountUsage:
    """One account as authorize and ingestion see it (one pipelined read)."""

    jid: str
    exists: bool
    kind: str = ""
    closed: bool = False
    frozen: bool = False
    plan_as_of: str = ""
    group: str = ""
    counters: Mapping[str, str] = field(default_factory=dict)  # this month's usage hash
    grants: tuple[Grant, ...] = ()
    pending: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlanRef:
    plan: str
    version: int
    kind: str
    main: str  # the first member of the leaf's group ('' when not a leaf)


@dataclass(frozen=True, slots=True)
class CreditsOf:
    """The credits side of an account: is it frozen, its grants, what is drawn unsettled."""

    frozen: bool
    grants: tuple[Grant, ...]
    pending: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Authorizing:
    """What authorize reads of one account and one resource (``usage_standing.lua``)."""

    account: AccountUsage  # counters, grants and draws: of that resource only
    ref: PlanRef
    credits: CreditsOf  # the credits drawn on: its own, or a leaf's main's


@dataclass(frozen=True, slots=True)
class Counted:
    """What ``count`` did: per event (counted, beyond the allowance), then this month's
    totals per resource (used, drawn on credits)."""

    events: tuple[tuple[bool, int], ...]
    totals: Mapping[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class ToCount:
    """One account's part of a batch: its events (with the month each counts in)."""

    jid: str
    events: Sequence[tuple[str, UsageEvent]]
    allowances: Mapping[str, int]
    resources: Sequence[str]
    main: str = ""  # a leaf's main, whose credits it draws on


def _counted(reply: Sequence[Any], resources: Sequence[str]) -> Counted:
    results, totals = reply
    pairs = tuple((bool(int(results[i])), int(results[i + 1])) for i in range(0, len(results), 2))
    per_resource = {
        r: (int(totals[2 * i]), int(totals[2 * i + 1])) for i, r in enumerate(resources)
    }
    return Counted(pairs, per_resource)


NO_CREDITS: Final = CreditsOf(False, (), {})


@dataclass(frozen=True, slots=True)
class Transfer:
    field: str  # YYYYMMDD:EVENT in the leaf's transfers hash
    day: str  # the day whose set holds the event's id (on the main: its draw's)
    event_id: str
    main: str
    resource: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SlotSettled:
    applied: bool  # False: this slot was settled before
    entries: int
    earliest_expiry: int  # Unix time of the first grant to expire, -1 when none is left


def _decode_transfers(raw: Mapping[str, str]) -> list[Transfer]:
    found = []
    for name, value in sorted(raw.items()):
        day, _, event_id = name.partition(":")
        main, resource, quantity = value.split("|")
        found.append(Transfer(name, day, event_id, main, resource, int(quantity)))
    return found


def _by_main_and_day(transfers: Sequence[Transfer]) -> dict[tuple[str, str], list[Transfer]]:
    groups: dict[tuple[str, str], list[Transfer]] = {}
    for transfer in transfers:
        groups.setdefault((transfer.main, transfer.day), []).append(transfer)
    return groups


def decode_grants(raw: Mapping[str, str], currency: str) -> tuple[Grant, ...]:
    return tuple(Grant.decode(gid, text, currency) for gid, text in sorted(raw.items()))


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


class UsageStore:
    def __init__(
        self, redis: RedisClient, scripts: Scripts, currencies: Currencies, shards: Shards
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies  # of the grants' prices
        self._shards = shards
        self._standing_calls = Coalesced(scripts, "usage_standing")  # many authorize at once

    # --- reads ----------------------------------------------------------------

    async def standing(self, jid: str, month: str) -> AccountUsage:
        return (await self.standings([jid], month))[0]

    async def standings(self, jids: Sequence[str], month: str) -> list[AccountUsage]:
        """Several accounts in one round trip (a pipeline of reads, not a transaction)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid in jids:
                pipe.hmget(keys.account(jid), ["kind", "status", "plan_as_of", "currency"])
                pipe.exists(keys.freezes(jid))
                pipe.get(keys.leaf_jids_index(jid))
                pipe.hgetall(keys.usage(jid, month))
                pipe.hgetall(keys.credit_grants(jid))
                pipe.hgetall(keys.credit_pending(jid))
            replies = await pipe.execute()
        return [self._standing(jid, replies[6 * i : 6 * i + 6]) for i, jid in enumerate(jids)]

    async def authorizing(self, jid: str, month: str, resource: str) -> Authorizing:
        """One account's standing for ``resource`` in ``month``: one round trip, and a second
        for a leaf (its main's credits, in the main's hash slot)."""
        found = await self._standing_calls.call(*self._standing_call(jid, month, resource))
        account, snapshot = self._decode_standing(jid, resource, found)
        if not account.exists:
            return Authorizing(account, PlanRef("", 0, "", ""), NO_CREDITS)
        plan, version, plan_kind, paid_by = snapshot
        main, credits = "", CreditsOf(False, account.grants, account.pending)
        if account.kind == "leaf" and account.group:
            found = await self._main_credits(jid, account.group, paid_by or "", month, resource)
            main, credits = found or (main, credits)
        ref = PlanRef(plan or "", int(version or 0), plan_kind or account.kind, main)
        return Authorizing(account, ref, credits)

    def _standing_call(self, jid: str, month: str, resource: str) -> tuple[list[str], list[str]]:
        """The keys and arguments of ``usage_standing.lua`` (resource '': no credits read)."""
        head, tail = keys.plan_as_of(jid, MONTH_MARK).split(MONTH_MARK)
        names = [keys.account(jid), keys.freezes(jid), keys.leaf_jids_index(jid)]
        names += [keys.usage(jid, month), keys.credit_grants(jid), keys.credit_pending(jid)]
        return names, [resource, head, tail]

    def _decode_standing(
        self, jid: str, resource: str, found: Sequence[Any]
    ) -> tuple[AccountUsage, Sequence[str | None]]:
        """The account and its plan snapshot (plan, version, kind, paid_by) as read."""
        if not found:
            return AccountUsage(jid, False), (None, None, None, None)
        kind, status, plan_as_of, currency, frozen, group, used, grants, pending, snapshot = found
        account = AccountUsage(
            jid,
            exists=True,
            kind=kind,
            closed=status != "active",
            frozen=bool(frozen),
            plan_as_of=plan_as_of,
            group=group,
            counters={f"used:{resource}": used},
            grants=decode_grants(_pairs(grants), self.currencies.of_field(currency)),
            pending=_pairs(pending),
        )
        return account, snapshot or (None, None, None, None)

    async def _main_credits(
        self, leaf: str, group: str, paid_by: str, month: str, resource: str
    ) -> tuple[str, CreditsOf] | None:
        """A leaf's main (the group's first member) and its credits, read in the same round
        trip as the main its plan snapshot names (the same JID, but for a move under way);
        None when the leaf has no main."""
        async with self._scripts.pipeline() as pipe:
            pipe.pipe.lindex(keys.leaf_jids(group), 0)
            if paid_by:
                pipe.call("usage_standing", *self._standing_call(paid_by, month, resource))
            main, *replies = await pipe.execute()
        if not main or main == leaf:
            return None
        if main != paid_by:
            return main, (await self.credits_for([(main, resource)], month))[0]
        account, _snapshot = self._decode_standing(main, resource, replies[0])
        return main, CreditsOf(account.frozen, account.grants, account.pending)

    async def accounts(self, jids: Sequence[str], month: str) -> list[tuple[AccountUsage, PlanRef]]:
        """What counting needs of each account (kind, status, plan in force, a leaf's main):
        one ``usage_standing.lua`` each in one round trip, the leaves' mains in a second."""
        async with self._scripts.pipeline() as pipe:
            for jid in jids:
                pipe.call("usage_standing", *self._standing_call(jid, month, ""))
            replies = await pipe.execute()
        found = [self._decode_standing(j, "", r) for j, r in zip(jids, replies, strict=True)]
        leaves = [a for a, _ in found if a.kind == "leaf" and a.group]
        mains = await self._mains(leaves)
        return [
            (a, PlanRef(plan or "", int(version or 0), kind or a.kind, mains.get(a.jid, "")))
            for a, (plan, version, kind, _paid_by) in found
        ]

    async def _mains(self, leaves: Sequence[AccountUsage]) -> dict[str, str]:
        """Each leaf's main: the first of its group's list (none when it is the leaf)."""
        if not leaves:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for leaf in leaves:
                pipe.lindex(keys.leaf_jids(leaf.group), 0)
            replies = await pipe.execute()
        return {a.jid: m for a, m in zip(leaves, replies, strict=True) if m and m != a.jid}

    async def credits_for(self, asked: Sequence[tuple[str, str]], month: str) -> list[CreditsOf]:
        """The credits of each (account, resource) of ``asked``: one round trip."""
        async with self._scripts.pipeline() as pipe:
            for jid, resource in asked:
                pipe.call("usage_standing", *self._standing_call(jid, month, resource))
            replies = await pipe.execute()
        found = []
        for (jid, resource), reply in zip(asked, replies, strict=True):
            account, _snapshot = self._decode_standing(jid, resource, reply)
            found.append(CreditsOf(account.frozen, account.grants, account.pending))
        return found

    def _standing(self, jid: str, replies: Sequence[Any]) -> AccountUsage:
        (kind, status, plan_as_of, currency), frozen, group, counters, grants, pending = replies
        if status is None:
            return AccountUsage(jid, exists=False)
        return AccountUsage(
            jid,
            exists=True,
            kind=kind or "",
            closed=status != "active",
            frozen=bool(frozen),
            plan_as_of=plan_as_of or "",
            group=group or "",
            counters=counters,
            grants=decode_grants(grants, self.currencies.of_field(currency)),
            pending=pending,
        )

    async def plan_ref(self, account: AccountUsage) -> PlanRef:
        """The plan in force (its snapshot) and, for a leaf, its main."""
        return (await self.plan_refs([account]))[0]

    async def plan_refs(self, accounts: Sequence[AccountUsage]) -> list[PlanRef]:
        leaves = [a for a in accounts if a.kind == "leaf" and a.group]
        async with self._redis.pipeline(transaction=False) as pipe:
            for account in accounts:
                pipe.hmget(
                    keys.plan_as_of(account.jid, account.plan_as_of), ["plan", "version", "kind"]
                )
            for account in leaves:  # the group's list names the main first
                pipe.lindex(keys.leaf_jids(account.group), 0)
            replies = await pipe.execute()
        mains = {a.jid: m for a, m in zip(leaves, replies[len(accounts) :], strict=True) if m}
        refs = []
        for account, (plan, version, kind) in zip(accounts, replies, strict=False):
            main = mains.get(account.jid, "")
            main = main if main != account.jid else ""
            refs.append(PlanRef(plan or "", int(version or 0), kind or account.kind, main))
        return refs

    async def credits_of(self, jid: str) -> CreditsOf:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.freezes(jid))
            pipe.hgetall(keys.credit_grants(jid))
            pipe.hgetall(keys.credit_pending(jid))
            self.currencies.queue(pipe, jid)
            frozen, grants, pending, currency = await pipe.execute()
        decoded = decode_grants(grants, self.currencies.of_field(currency))
        return CreditsOf(bool(frozen), decoded, pending)

    async def month(self, jid: str, month: str) -> dict[str, str]:
        counters: Any = await self._redis.hgetall(keys.usage(jid, month))
        return dict(counters)

    async def months(self, jid: str, months: Sequence[str]) -> list[dict[str, str]]:
        """The counters of several months (empty for a month without usage), one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for month in months:
                pipe.hgetall(keys.usage(jid, month))
            found: list[dict[str, str]] = await pipe.execute()
        return found

    async def plan_in_force(self, jid: str, month: str) -> PlanRef | None:
        """The plan snapshot in force in ``month`` (the newest from that month or before,
        back to the account's registration); None for no account or none found."""
        fields: Any = await self._redis.hmget(keys.account(jid), ["plan_as_of", "registered_at"])
        current, registered = fields
        if not registered:
            return None
        if current and current <= month:  # the usual case: no change of plan since
            return await self._snapshots(jid, [current])
        first = month_of(datetime.fromisoformat(registered))
        return await self._snapshots(jid, _back(month, first, MONTHS_PROBED))

    async def _snapshots(self, jid: str, months: Sequence[str]) -> PlanRef | None:
        """The first snapshot of ``months`` that exists, as a PlanRef."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for month in months:
                pipe.hmget(keys.plan_as_of(jid, month), ["plan", "version", "kind", "paid_by"])
            found = await pipe.execute()
        for plan, version, kind, paid_by in found:
            if plan is not None:
                return PlanRef(plan, int(version or 0), kind or "", paid_by or "")
        return None

    async def mark_blocked(self, jid: str, month: str, resource: str, used: int) -> None:
        """A resource was used up in ``month`` at ``used`` (the first time is kept): what
        ``usage YYYY-MM`` says was blocked."""
        await self._redis.hsetnx(keys.usage(jid, month), f"blocked:{resource}", used)

    async def open_months(self, jid: str) -> list[str]:
        months: Any = await self._redis.smembers(keys.usage_open(jid))
        return sorted(months)

    async def transfers(self, leaf: str) -> list[Transfer]:
        return (await self.transfers_of([leaf]))[0]

    async def transfers_of(self, leaves: Sequence[str]) -> list[list[Transfer]]:
        """``transfers`` of each of ``leaves``, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for leaf in leaves:
                pipe.hgetall(keys.credit_transfers(leaf))
            replies: list[Any] = await pipe.execute()
        return [_decode_transfers(raw) for raw in replies]

    # --- writes (one account each) --------------------------------------------

    async def count(
        self, batch: Sequence[ToCount], *, this_month: str, now: datetime, late_days: int
    ) -> list[Counted]:
        """Count each account's ``(month, event)`` pairs (this month or the last) with its
        allowances, in one round trip: one ``usage_count.lua`` per account.

        With a ``main``, what goes beyond the allowance is recorded as a transfer
        to the main's credits (``apply_transfers``), else drawn on the account's own.
        Every account (and main) is marked for the settle chore first, in a round trip
        of its own, so usage is never counted without the chore knowing.
        """
        batch_window = _Window.of(this_month, now, late_days)
        calls = [self._count_call(item, batch_window) for item in batch]
        await self.mark_unsettled(*(j for item in batch for j in (item.jid, item.main) if j))
        async with self._scripts.pipeline() as pipeline:
            for script_keys, args in calls:
                pipeline.call("usage_count", script_keys, args)
            replies = await pipeline.execute()
        return [_counted(reply, item.resources) for item, reply in zip(batch, replies, strict=True)]

    def _count_call(self, item: ToCount, w: _Window) -> tuple[list[str], list[str | int]]:
        jid = item.jid
        allowed = ",".join(f"{r}:{int(item.allowances.get(r, 0))}" for r in item.resources)
        sets_head, sets_tail = keys.usage_events(jid, DAY_MARK).split(DAY_MARK)
        args: list[str | int] = ["leaf" if item.main else "own", item.main, *w.months]
        args += [allowed, w.days_arg, sets_head, sets_tail]
        for month, event in item.events:
            which = "c" if month == w.this_month else "p"
            where = w.place[event_day(event.at, w.now)]
            args += [which, where, event_key(event.event_id), event.resource, event.quantity]
        script_keys = [
            keys.usage(jid, w.this_month),
            keys.usage(jid, w.last_month),
            keys.credit_pending(jid),
            keys.credit_transfers(jid),
            keys.usage_open(jid),
        ]
        return script_keys, args

    async def apply_transfers(
        self, leaf: str, transfers: Sequence[Transfer], now: datetime, late_days: int
    ) -> int:
        """Put a leaf's draws on each main (once per event), then drop them from the leaf."""
        return await self.apply_transfers_of({leaf: transfers}, now, late_days)

    async def apply_transfers_of(
        self, drawn: Mapping[str, Sequence[Transfer]], now: datetime, late_days: int
    ) -> int:
        """``apply_transfers`` of several leaves: one ``usage_draw.lua`` per leaf, main and
        day, all in one round trip, then the leaves' transfers dropped in a second (only
        once every draw is on its main). How many draws were added (0: all applied before)."""
        calls = [
            self._draw_call(leaf, main, day, batch, now, late_days)
            for leaf, transfers in drawn.items()
            for (main, day), batch in _by_main_and_day(transfers).items()
        ]
        if not calls:
            return 0
        async with self._scripts.pipeline() as pipeline:
            for names, args in calls:
                pipeline.call("usage_draw", names, args)
            added = await pipeline.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for leaf, transfers in drawn.items():
                if transfers:
                    pipe.hdel(keys.credit_transfers(leaf), *(t.field for t in transfers))
            await pipe.execute()
        return sum(int(n) for n in added)

    def _draw_call(
        self,
        leaf: str,
        main: str,
        day: str,
        batch: Sequence[Transfer],
        now: datetime,
        late_days: int,
    ) -> tuple[list[str], list[str | int]]:
        args: list[str | int] = [leaf, _events_ttl(day, now, late_days)]
        for t in batch:
            args += [event_key(f"draw:{leaf}:{t.event_id}"), t.resource, t.quantity]
        return [keys.usage_events(main, day), keys.credit_pending(main)], args

    async def settle(
        self,
        jid: str,
        *,
        slot: datetime,
        cutoff: datetime,
        at: datetime,
        actor: str,
        resources: Sequence[str],
        months: Sequence[str],
    ) -> SlotSettled:
        """Settle the open ``months`` and the credits drawn, once per slot; see usage_settle.lua
        (credits used are written to the ledger once their month is over)."""
        this_month = month_of(slot)
        months = sorted({*months, this_month})
        applied, entries, earliest = await self._scripts.call(
            "usage_settle",
            [
                keys.usage_slot(jid),
                keys.usage_open(jid),
                keys.credit_pending(jid),
                keys.credit_grants(jid),
                keys.transactions(jid),
                keys.balance_prepaid(jid),
                *(keys.usage(jid, month) for month in months),
            ],
            [
                epoch(slot),
                epoch(cutoff),
                at.isoformat(),
                actor,
                this_month,
                _usage_ttl(this_month, at),
                len(resources),
                *resources,
                *months,
            ],
        )
        return SlotSettled(bool(applied), int(entries), int(earliest))

    async def nothing_to_settle(self, jid: str) -> bool:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.scard(keys.usage_open(jid))
            pipe.hlen(keys.credit_pending(jid))
            pipe.hlen(keys.credit_transfers(jid))
            sizes = await pipe.execute()
        return not any(sizes)

    async def last_slot(self, jid: str) -> int | None:
        value: Any = await self._redis.get(keys.usage_slot(jid))
        return int(value) if value else None

    # --- the settle chore's schedule (a sharded sorted set of JIDs) -----------

    async def mark_unsettled(self, *jids: str) -> None:
        """Before counting: the account (and a leaf's main) has something to settle.

        The score counts the batches marked: it grows with every one, so the
        chore drops an account only if nothing was marked since it looked.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid in dict.fromkeys(jids):
                pipe.zincrby(self._shards.key(keys.USAGE_UNSETTLED, jid), 1, jid)
            await pipe.execute()

    async def unsettled(self, shard: int) -> list[tuple[str, int]]:
        """Every account of one shard with something to settle, and its count of batches."""
        key, found = keys.shard(keys.USAGE_UNSETTLED, shard), list[tuple[str, int]]()
        while True:
            page: Any = await self._redis.zrange(
                key, len(found), len(found) + PAGE - 1, withscores=True
            )
            found += [(jid, int(score)) for jid, score in page]
            if len(page) < PAGE:
                return found

    async def settled(self, jid: str, seen: int) -> bool:
        """Drop ``jid`` from the schedule unless a batch was marked since its score was ``seen``."""
        schedule = self._shards.key(keys.USAGE_UNSETTLED, jid)
        removed = await self._scripts.call("zrem_if_score", [schedule], [jid, seen])
        return bool(removed)


@dataclass(frozen=True, slots=True)
class _Window:
    """What every ``usage_count.lua`` call of a batch shares, computed once per batch."""

    now: datetime
    this_month: str
    last_month: str
    months: tuple[str, str, int, int]  # this month, last month, their counters' lifetimes
    place: Mapping[str, int]  # a day's place in the window (every day an event still
    # counted now may be from), from 1 = the oldest
    days_arg: str  # 'YYYYMMDD:TTL,...': each day's event set and its lifetime, one argument

    @classmethod
    def of(cls, this_month: str, now: datetime, late_days: int) -> _Window:
        last_month, days = shift_month(this_month, -1), tuple(window_days(now, late_days))
        lifetimes = (_usage_ttl(this_month, now), _usage_ttl(last_month, now))
        days_arg = ",".join(f"{day}:{_events_ttl(day, now, len(days) - 1)}" for day in days)
        place = {day: i for i, day in enumerate(days, 1)}
        return cls(now, this_month, last_month, (this_month, last_month, *lifetimes), place,
                   days_arg)  # fmt: skip


# Lifetimes are relative to the business time ``now`` (a chore or test run
# with --now in the past must not write keys that are already expired).


def _usage_ttl(month: str, now: datetime) -> int:
    end = month_start(shift_month(month, USAGE_MONTHS_KEPT))
    return max(epoch(end) - epoch(now), MIN_TTL)


def _events_ttl(day: str, now: datetime, late_days: int) -> int:
    # An event of that day can be counted until ``late_days`` after the day ends.
    start = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    end = start + timedelta(days=1 + late_days) + EVENTS_GRACE
    return max(epoch(end) - epoch(now), MIN_TTL)


def _back(month: str, first: str, count: int) -> list[str]:
    """``month`` and up to ``count - 1`` months before it, newest first, not before ``first``."""
    months = [shift_month(month, -back) for back in range(count)]
    return [m for m in months if m >= first]

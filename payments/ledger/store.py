"""Balances and the ledger: every change is one Lua script that also appends the entry.

The stream holds the recent months; older entries are in the archive (``archive.py``),
moved there by the archive-ledger chore, which leaves an ``archived`` entry bringing
their sum forward: the stream alone still sums to the balances. The readers by month
(``history``, the account page) read both, transparently.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from payments import keys
from payments.clock import epoch, utcnow
from payments.errors import InsufficientFunds, WrongCurrency
from payments.ledger.archive import LedgerArchive, Record
from payments.ledger.records import (
    Applied,
    Balance,
    Balances,
    EntryKind,
    LedgerEntry,
    Mismatch,
    ref_key,
    refs_of,
)
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts

# Lua numbers are doubles: keep every amount far below 2**53 units.
MAX_UNITS: Final = 10**15
MAX_REASON: Final = 200
MAX_REF: Final = 200
# The refs that leave the idempotency hash for the set of archived refs' digests when
# their entries are archived: those whose scripts look in that set too (credit.lua,
# debit.lua, card_credit.lua: payments and vouchers, the refs a provider or a user
# replays). Every other ref (a dispute, a refund, a charge line, a move, a referral)
# stays in the hash, which its script reads alone: a replay of it stays refused.
ARCHIVED_REF_KINDS: Final = frozenset({EntryKind.PAYMENT.value, EntryKind.VOUCHER.value})
_PAGE: Final = 500
SUMMED_IN_REDIS: Final = 20_000  # a longer stream is summed a page at a time (reconcile)
CHECK_ATTEMPTS: Final = 5
# An entry's stream id is the time it was written, its ``at`` the time it belongs to: a
# chore run with ``--now`` ahead of the clock writes entries dated up to this much later.
WRITTEN_BEFORE: Final = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Checked:
    """One account's books as reconcile reads them: what it holds, and any mismatch."""

    jid: str
    held: Money  # prepaid and voucher
    mismatches: list[Mismatch]


@dataclass(frozen=True, slots=True)
class Trimmed:
    """What ``trim_archived`` did: ``applied`` False when the stream was not as read."""

    applied: bool
    entries: int = 0
    refs: int = 0
    why: str = ""


def _stream_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def _month_of_at(fields: Mapping[str, str]) -> str:
    return fields["at"][:7].replace("-", "")  # YYYYMM of an ISO 8601 instant


class LedgerStore:
    """One account's balances and ledger, in the account's currency (``Currencies``); its
    months before ``[ledger] keep_months`` in the ``archive`` (None: only what Redis holds)."""

    def __init__(
        self,
        redis: RedisClient,
        scripts: Scripts,
        currencies: Currencies,
        archive: LedgerArchive | None = None,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies
        self.archive = archive

    async def credit(
        self,
        jid: str,
        amount: Money,
        *,
        reason: str,
        kind: EntryKind = EntryKind.CREDIT,
        balance: Balance = Balance.PREPAID,
        ref: str = "",
        actor: str = "",
        at: datetime | None = None,
    ) -> Applied:
        """Add ``amount``; with a ``ref`` the same change is applied once, ever. Money in
        another currency than the account's is refused (WrongCurrency), unless it is the
        account's first: then the account counts in its currency from now on."""
        args = self._args(amount, balance, kind, reason, ref, actor, at)
        status, entry_id, after = await self._scripts.call("credit", self._keys(jid, balance), args)
        if status == -2:
            raise WrongCurrency(jid, amount.currency, await self.currencies.of(jid))
        return Applied(bool(status), entry_id, Money(int(after), amount.currency))

    async def debit(
        self,
        jid: str,
        amount: Money,
        *,
        reason: str,
        kind: EntryKind = EntryKind.DEBIT,
        balance: Balance = Balance.PREPAID,
        ref: str = "",
        actor: str = "",
        at: datetime | None = None,
    ) -> Applied:
        """Take ``amount``; raises InsufficientFunds rather than go below zero, WrongCurrency
        for an amount in another currency than the account's."""
        args = self._args(amount, balance, kind, reason, ref, actor, at)
        status, entry_id, value = await self._scripts.call("debit", self._keys(jid, balance), args)
        if status == -2:
            raise WrongCurrency(jid, amount.currency, await self.currencies.of(jid))
        if status == -1:
            raise InsufficientFunds(missing=Money(int(value), amount.currency))
        return Applied(bool(status), entry_id, Money(int(value), amount.currency))

    async def balances(self, jid: str) -> Balances:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.balance_prepaid(jid))  # not MGET: a cluster pipeline refuses it
            pipe.get(keys.balance_voucher(jid))
            self.currencies.queue(pipe, jid)
            prepaid, voucher, field = await pipe.execute()
        currency = self.currencies.of_field(field)
        return Balances(
            prepaid=Money(int(prepaid or 0), currency),
            voucher=Money(int(voucher or 0), currency),
            prepaid_exists=prepaid is not None,
        )

    async def money_arrived(self, jid: str) -> bool:
        """Has money ever arrived (a ledger entry)? From then on the currency is fixed."""
        return bool(await self._redis.xlen(keys.transactions(jid)))

    async def currency_fixed(self, jid: str) -> bool:
        """May money in another currency no longer arrive (``lua/credit.lua``)? Once money
        arrived; and always for a leaf (its main's) or a JID with no account (the default)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(keys.transactions(jid))
            pipe.hget(keys.account(jid), "kind")
            arrived, kind = await pipe.execute()
        return bool(arrived) or kind in (None, "leaf")

    async def entries(
        self, jid: str, *, newest_first: bool = False, count: int | None = None
    ) -> list[LedgerEntry]:
        """Ledger entries in stream order (or newest first), at most ``count``."""
        key = keys.transactions(jid)
        raw: Any
        if newest_first:
            raw = await self._redis.xrevrange(key, count=count)
        else:
            raw = await self._redis.xrange(key, count=count)
        currency = await self.currencies.of(jid)
        return [LedgerEntry.decode(eid, fields, currency) for eid, fields in raw]

    async def entries_between(self, jid: str, start: datetime, end: datetime) -> list[LedgerEntry]:
        """Entries whose business time ``at`` is in ``[start, end)``, oldest first, from the
        stream and the archive (without the ``archived`` entries that stand for them).

        Filtered on ``at`` rather than on the stream id, because chores run
        with ``--now`` write entries dated other than the wall clock.
        """
        stream = [e async for e in self.iter_entries(jid)]
        return _merged(await self._archived(jid, start, end), stream, start, end)

    async def entries_since(self, jid: str, start: datetime, end: datetime) -> list[LedgerEntry]:
        """``entries_between``, reading the stream only from ids a while before ``start``
        (the account page's year: older months of the stream are not read)."""
        since = f"{epoch(start - WRITTEN_BEFORE) * 1000}-0"
        stream = [e async for e in self.iter_entries(jid, since=since)]
        return _merged(await self._archived(jid, start, end), stream, start, end)

    async def all_entries(self, jid: str) -> list[LedgerEntry]:
        """Every entry ever written, from the archive and the stream, oldest first (without
        the ``archived`` entries that stand for the archived ones): the deep reconcile."""
        stream = [e async for e in self.iter_entries(jid)]
        return _merged(await self._archived(jid, None, None), stream, None, None)

    async def _archived(
        self, jid: str, start: datetime | None, end: datetime | None
    ) -> list[LedgerEntry]:
        if self.archive is None:
            return []
        years = None if start is None or end is None else range(start.year, end.year + 1)
        records = await asyncio.to_thread(self.archive.entries, jid, years)
        return [LedgerEntry.decode(r.id, r.fields, r.currency) for r in records]

    async def iter_entries(
        self, jid: str, *, since: str = "-", until: str = "+"
    ) -> AsyncIterator[LedgerEntry]:
        """Entries in stream order between two stream ids (inclusive), a page at a time."""
        key, start = keys.transactions(jid), since
        currency = await self.currencies.of(jid)
        while True:
            page: Any = await self._redis.xrange(key, min=start, max=until, count=_PAGE)
            for eid, fields in page:
                yield LedgerEntry.decode(eid, fields, currency)
            if len(page) < _PAGE:
                return
            start = "(" + page[-1][0]

    async def check(self, jid: str) -> list[Mismatch]:
        """Compare each balance with the sum of its ledger entries (the ``archived`` entries
        stand for the entries in the archive: the stream alone sums to the balances).

        One script reads and sums them at once (``lua/ledger_sums.lua``); a stream too long
        for that is summed a page at a time, and summed again if the archive chore trimmed
        it meanwhile (its first entry changed), so concurrent writes raise no false alarm.
        """
        return (await self.check_many([jid]))[0].mismatches

    async def check_many(self, jids: Sequence[str]) -> list[Checked]:
        """``check`` of many accounts in one round trip (reconcile reads them a page at a
        time): each account's balances and mismatches, read by the same atomic script."""
        async with self._scripts.pipeline() as batch:
            for jid in jids:
                keys_ = [keys.transactions(jid), keys.balance_prepaid(jid)]
                batch.call("ledger_sums", [*keys_, keys.balance_voucher(jid)], [SUMMED_IN_REDIS])
                self.currencies.queue(batch.pipe, jid)
            replies = await batch.execute()
        return [
            await self._checked(jid, sums, self.currencies.of_field(field))
            for jid, sums, field in zip(jids, replies[::2], replies[1::2], strict=True)
        ]

    async def _checked(self, jid: str, reply: Sequence[Any], currency: str) -> Checked:
        prepaid, voucher, summed_prepaid, summed_voucher, _n = reply
        stored = {Balance.PREPAID: int(prepaid), Balance.VOUCHER: int(voucher)}
        if summed_prepaid != "":
            sums = {Balance.PREPAID: int(summed_prepaid), Balance.VOUCHER: int(summed_voucher)}
        else:  # too long for one script: summed a page at a time
            stored, sums = await self._sum_by_pages(jid)
        held = {b: Money(stored[b], currency) for b in Balance}
        mismatches = [
            Mismatch(jid, b, held[b], Money(sums[b], currency))
            for b in Balance
            if stored[b] != sums[b]
        ]
        return Checked(jid, held[Balance.PREPAID] + held[Balance.VOUCHER], mismatches)

    async def _sum_by_pages(self, jid: str) -> tuple[dict[Balance, int], dict[Balance, int]]:
        key = keys.transactions(jid)
        for _ in range(CHECK_ATTEMPTS):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(keys.balance_prepaid(jid))  # not MGET: a cluster pipeline refuses it
                pipe.get(keys.balance_voucher(jid))
                pipe.xrange(key, count=1)
                pipe.xrevrange(key, count=1)
                prepaid, voucher, first, last = await pipe.execute()
            stored = {Balance.PREPAID: int(prepaid or 0), Balance.VOUCHER: int(voucher or 0)}
            sums = dict.fromkeys(Balance, 0)
            if not last:
                return stored, sums
            async for entry in self.iter_entries(jid, until=last[0][0]):
                sums[entry.balance] += entry.amount.units
            head: Any = await self._redis.xrange(key, count=1)
            if head and head[0][0] == first[0][0]:
                return stored, sums
        raise RuntimeError(f"{jid}: the ledger kept being archived while it was summed")

    # --- the archive (the archive-ledger chore) ----------------------------------------

    async def archivable(self, jid: str, before: str, limit: int) -> list[Record]:
        """The oldest entries of the stream, in order, as long as each belongs (by ``at``) to
        a month before ``before`` (YYYYMM), at most ``limit``: the entries to archive.
        None when they would be ``archived`` entries alone (they wait for others)."""
        found: list[Record] = []
        start = "-"
        while len(found) < limit:
            page: Any = await self._redis.xrange(
                keys.transactions(jid), min=start, count=min(_PAGE, limit - len(found))
            )
            for eid, fields in page:
                if _month_of_at(fields) >= before:
                    return _ending_with_money(found)
                found.append((eid, fields))
            if not page or len(page) < _PAGE:
                return _ending_with_money(found)
            start = "(" + page[-1][0]
        return _ending_with_money(found)

    async def trim_archived(
        self, jid: str, entries: Sequence[Record], *, before: str, at: datetime, actor: str
    ) -> Trimmed:
        """Drop ``entries`` (the stream's first ones, now in the archive) and bring their sum
        forward, in one step (``lua/ledger_archive.lua``); the ``archived`` entries carry
        the account's currency."""
        sums = dict.fromkeys(Balance, 0)
        refs: dict[str, str] = {}
        for _, fields in entries:
            sums[Balance(fields["balance"])] += int(fields["amount"])
            if fields.get("kind") in ARCHIVED_REF_KINDS:
                refs.update((ref, ref_key(ref)) for ref in refs_of(fields))
        script_keys = [
            keys.transactions(jid),
            keys.idempotency(jid),
            keys.idempotency_archived(jid),
            keys.balance_prepaid(jid),
            keys.balance_voucher(jid),
        ]
        args = [
            entries[0][0], entries[-1][0], len(entries), sums[Balance.PREPAID],
            sums[Balance.VOUCHER], at.isoformat(), actor, before, await self.currencies.of(jid),
            *(part for pair in refs.items() for part in pair),
        ]  # fmt: skip
        reply = await self._scripts.call("ledger_archive", script_keys, args)
        if int(reply[0]) != 1:
            return Trimmed(False, why=str(reply[1]))
        return Trimmed(True, int(reply[1]), int(reply[2]))

    async def heads(self, jids: Sequence[str]) -> list[str | None]:
        """The month (YYYYMM, by ``at``) of each ledger's oldest entry, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid in jids:
                pipe.xrange(keys.transactions(jid), count=1)
            pages: list[Any] = await pipe.execute()
        return [_month_of_at(page[0][1]) if page else None for page in pages]

    async def archived_before(self, shard_key: str) -> str:
        """The month before which every ledger of a shard was archived by its last pass."""
        return str(await self._redis.get(shard_key) or "")

    async def mark_archived_before(self, shard_key: str, month: str) -> None:
        await self._redis.set(shard_key, month)

    async def accounts(self) -> AsyncIterator[str]:
        """Every JID that has a balance key or a ledger (SCAN: for operators, not hot paths)."""
        seen: set[str] = set()
        for pattern in keys.LEDGER_SCAN_PATTERNS:
            async for key in self._redis.scan_iter(match=pattern, count=1000):
                jid = keys.jid_of(key)
                if jid not in seen:
                    seen.add(jid)
                    yield jid

    def _keys(self, jid: str, balance: Balance) -> list[str]:
        key = keys.balance_prepaid if balance is Balance.PREPAID else keys.balance_voucher
        return [
            key(jid),
            keys.transactions(jid),
            keys.idempotency(jid),
            keys.account(jid),
            keys.idempotency_archived(jid),
        ]

    def _args(
        self,
        amount: Money,
        balance: Balance,
        kind: EntryKind,
        reason: str,
        ref: str,
        actor: str,
        at: datetime | None,
    ) -> list[str | int]:
        if not 0 < amount.units <= MAX_UNITS:
            raise ValueError("a balance change must be positive and below 10^11")
        if len(ref) > MAX_REF:
            raise ValueError(f"an idempotency key has at most {MAX_REF} characters")
        when = (at or utcnow()).isoformat()
        return [
            amount.units, balance.value, kind.value, reason[:MAX_REASON], ref, when, actor,
            amount.currency, self.currencies.default, ref_key(ref) if ref else "",
        ]  # fmt: skip


def _merged(
    archived: Iterable[LedgerEntry],
    stream: Iterable[LedgerEntry],
    start: datetime | None,
    end: datetime | None,
) -> list[LedgerEntry]:
    # An entry may be in both for a while: written to the archive, then a crash before
    # the stream was trimmed. The ids say it is one entry.
    found = {e.id: e for e in (*archived, *stream) if e.kind is not EntryKind.ARCHIVED}
    return [
        e
        for _, e in sorted(found.items(), key=lambda item: _stream_order(item[0]))
        if (start is None or start <= e.at) and (end is None or e.at < end)
    ]


def _ending_with_money(entries: list[Record]) -> list[Record]:
    """``entries`` up to the last that is not an ``archived`` entry (none: nothing)."""
    for end in range(len(entries), 0, -1):
        if entries[end - 1][1].get("kind") != EntryKind.ARCHIVED:
            return entries[:end]
    return []

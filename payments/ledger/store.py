"""Balances and the ledger: every change is one Lua script that also appends the entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

from payments import keys
from payments.clock import utcnow
from payments.errors import InsufficientFunds
from payments.ledger.records import (
    Applied,
    Balance,
    Balances,
    EntryKind,
    LedgerEntry,
    Mismatch,
    sum_by_balance,
)
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts

# Lua numbers are doubles: keep every amount far below 2**53 units.
MAX_UNITS: Final = 10**15
MAX_REASON: Final = 200
MAX_REF: Final = 200
_PAGE: Final = 500


class LedgerStore:
    def __init__(self, redis: RedisClient, scripts: Scripts, currency: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currency = currency

    def money(self, units: int) -> Money:
        return Money(units, self.currency)

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
        """Add ``amount``; with a ``ref`` the same change is applied once, ever."""
        args = self._args(amount, balance, kind, reason, ref, actor, at)
        status, entry_id, after = await self._scripts.call("credit", self._keys(jid, balance), args)
        return Applied(bool(status), entry_id, self.money(int(after)))

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
        """Take ``amount``; raises InsufficientFunds rather than go below zero."""
        args = self._args(amount, balance, kind, reason, ref, actor, at)
        status, entry_id, value = await self._scripts.call("debit", self._keys(jid, balance), args)
        if status == -1:
            raise InsufficientFunds(missing=self.money(int(value)))
        return Applied(bool(status), entry_id, self.money(int(value)))

    async def balances(self, jid: str) -> Balances:
        prepaid, voucher = await self._redis.mget(
            keys.balance_prepaid(jid), keys.balance_voucher(jid)
        )
        return Balances(
            prepaid=self.money(int(prepaid or 0)),
            voucher=self.money(int(voucher or 0)),
            prepaid_exists=prepaid is not None,
        )

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
        return [LedgerEntry.decode(eid, fields, self.currency) for eid, fields in raw]

    async def entries_between(self, jid: str, start: datetime, end: datetime) -> list[LedgerEntry]:
        """Entries whose business time ``at`` is in ``[start, end)``, oldest first.

        Filtered on ``at`` rather than on the stream id, because chores run
        with ``--now`` write entries dated other than the wall clock.
        """
        return [e async for e in self.iter_entries(jid) if start <= e.at < end]

    async def iter_entries(
        self, jid: str, *, since: str = "-", until: str = "+"
    ) -> AsyncIterator[LedgerEntry]:
        """Entries in stream order between two stream ids (inclusive), a page at a time."""
        key, start = keys.transactions(jid), since
        while True:
            page: Any = await self._redis.xrange(key, min=start, max=until, count=_PAGE)
            for eid, fields in page:
                yield LedgerEntry.decode(eid, fields, self.currency)
            if len(page) < _PAGE:
                return
            start = "(" + page[-1][0]

    async def check(self, jid: str) -> list[Mismatch]:
        """Compare each balance with the sum of its ledger entries.

        The balances and the stream's last id are read in one MULTI (one hash
        slot), so entries appended while we sum do not cause false alarms.
        """
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.balance_prepaid(jid))  # not MGET: a cluster pipeline refuses it
            pipe.get(keys.balance_voucher(jid))
            pipe.xrevrange(keys.transactions(jid), count=1)
            prepaid, voucher, last = await pipe.execute()
        stored = {Balance.PREPAID: int(prepaid or 0), Balance.VOUCHER: int(voucher or 0)}
        if not last:
            sums = {b: self.money(0) for b in Balance}
        else:
            sums = sum_by_balance(
                [e async for e in self.iter_entries(jid, until=last[0][0])], self.currency
            )
        return [
            Mismatch(jid, b, self.money(stored[b]), sums[b])
            for b in Balance
            if stored[b] != sums[b].units
        ]

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
        return [key(jid), keys.transactions(jid), keys.idempotency(jid)]

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
        if amount.currency != self.currency:
            raise ValueError(f"this deployment counts in {self.currency}, not {amount.currency}")
        if not 0 < amount.units <= MAX_UNITS:
            raise ValueError("a balance change must be positive and below 10^11")
        if len(ref) > MAX_REF:
            raise ValueError(f"an idempotency key has at most {MAX_REF} characters")
        when = (at or utcnow()).isoformat()
        return [amount.units, balance.value, kind.value, reason[:MAX_REASON], ref, when, actor]

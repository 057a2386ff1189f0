"""Balances and the ledger: every change is one Lua script that also appends the entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final

from payments import keys
from payments.clock import utcnow
from payments.errors import InsufficientFunds, WrongCurrency
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
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts

# Lua numbers are doubles: keep every amount far below 2**53 units.
MAX_UNITS: Final = 10**15
MAX_REASON: Final = 200
MAX_REF: Final = 200
_PAGE: Final = 500


class LedgerStore:
    """One account's balances and ledger, in the account's currency (``Currencies``)."""

    def __init__(self, redis: RedisClient, scripts: Scripts, currencies: Currencies) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currencies = currencies

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
        currency = await self.currencies.of(jid)
        while True:
            page: Any = await self._redis.xrange(key, min=start, max=until, count=_PAGE)
            for eid, fields in page:
                yield LedgerEntry.decode(eid, fields, currency)
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
            self.currencies.queue(pipe, jid)
            prepaid, voucher, last, field = await pipe.execute()
        currency = self.currencies.of_field(field)
        stored = {Balance.PREPAID: int(prepaid or 0), Balance.VOUCHER: int(voucher or 0)}
        if not last:
            sums = {b: Money.zero(currency) for b in Balance}
        else:
            sums = sum_by_balance(
                [e async for e in self.iter_entries(jid, until=last[0][0])], currency
            )
        return [
            Mismatch(jid, b, Money(stored[b], currency), sums[b])
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
        return [key(jid), keys.transactions(jid), keys.idempotency(jid), keys.account(jid)]

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
            amount.currency, self.currencies.default,
        ]  # fmt: skip

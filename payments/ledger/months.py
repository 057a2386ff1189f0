"""The ledger month by month, for people (the account page, its CSV): the entries of each
month and what went in and out.

Entries are placed in the month of their business time ``at`` (like ``history``),
not of their stream id: a chore run with ``--now`` writes entries dated otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from payments.clock import month_of, month_start, shift_month
from payments.ledger.records import EntryKind, LedgerEntry
from payments.ledger.store import LedgerStore
from payments.money import Money

MONEY_IN: Final = frozenset({EntryKind.PAYMENT, EntryKind.VOUCHER, EntryKind.CREDIT})
CHARGE_REFUND: Final = "refund:"  # the ref of a credit that gives a join's charge back (groups)


def is_charge(entry: LedgerEntry) -> bool:
    """A charge, or a charge given back (a ``credit`` whose ref is ``refund:ENTRY``)."""
    return entry.kind is EntryKind.CHARGE or (
        entry.kind is EntryKind.CREDIT and entry.ref.startswith(CHARGE_REFUND)
    )


@dataclass(frozen=True, slots=True)
class LedgerMonth:
    month: str  # YYYYMM
    entries: tuple[LedgerEntry, ...]  # oldest first
    spent: Money  # what the service charged (plans, leaves, packs), less charges given back
    added: Money  # money in: payments, vouchers redeemed, operators' credits

    @property
    def money_entries(self) -> tuple[LedgerEntry, ...]:
        """The entries that moved money (metering entries have amount 0)."""
        return tuple(e for e in self.entries if e.amount.units)


def month_of_entries(month: str, entries: Sequence[LedgerEntry], currency: str) -> LedgerMonth:
    zero = Money.zero(currency)
    spent = -sum((e.amount for e in entries if is_charge(e)), zero)
    added = sum((e.amount for e in entries if e.kind in MONEY_IN and not is_charge(e)), zero)
    return LedgerMonth(month, tuple(entries), spent, added)


def by_month(
    entries: Iterable[LedgerEntry], months: Sequence[str], currency: str
) -> list[LedgerMonth]:
    """The entries of each of ``months`` (in that order); others are left out."""
    found: dict[str, list[LedgerEntry]] = {month: [] for month in months}
    for entry in entries:
        bucket = found.get(month_of(entry.at))
        if bucket is not None:
            bucket.append(entry)
    return [month_of_entries(month, found[month], currency) for month in months]


async def ledger_months(ledger: LedgerStore, jid: str, months: Sequence[str]) -> list[LedgerMonth]:
    """``jid``'s ledger in each of ``months`` (consecutive, oldest first): one pass over
    the part of its stream written since a while before the first month, and the
    archive's files of those years (months moved out of Redis)."""
    start, end = month_start(months[0]), month_start(shift_month(months[-1], 1))
    entries = await ledger.entries_since(jid, start, end)
    return by_month(entries, months, await ledger.currencies.of(jid))

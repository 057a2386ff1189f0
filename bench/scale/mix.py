"""The mix of accounts of the million-account run, and when each one happened.

Accounts come in units: a single account, or a main and its 1-3 leaves. A cycle of
160 units makes 200 accounts, shuffled once with a fixed seed so that every kind is
spread over the whole range (and over the shards):

| kind | units | accounts | what it is |
| --- | --- | --- | --- |
| paid | 80 | 40% | activated in April by $35, its $15 month charged; May's renewal pays |
| trial | 30 | 15% | registered in late April, never paid |
| pack | 20 | 10% | as paid, autobuy of pack `sms100` ($5, 100 sms) on; $45 paid |
| unpaid | 5 | 2.5% | activated in April with the $20 minimum: May's renewal owes $10 |
| frozen | 5 | 2.5% | activated in March with $20: April's renewal unpaid, then frozen |
| main | 20 | 10% | as paid, with 1, 2 or 3 leaves (in turn) joined a minute after |
| leaf | - | 20% | a new JID joining its main (the main pays for it) |

Activation days run over the 30 days of April (frozen ones over March 1-20), so a day
of May renews about 1/30 of the paid accounts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

APRIL: Final = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
MARCH: Final = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PLAN: Final = "basic"
PLAN_PRICE: Final = 150_000  # $15.00 a month
PACK: Final = "sms100"
PACK_PRICE: Final = 50_000  # $5.00 for 100 sms
PACK_QUANTITY: Final = 100
ALLOWANCE: Final = {"sms": 20}  # the plan's monthly sms
JOIN_DELAY: Final = timedelta(minutes=1)
REGISTER_LEAD: Final = timedelta(hours=1)


class Kind(StrEnum):
    PAID = "paid"
    TRIAL = "trial"
    PACK = "pack"
    UNPAID = "unpaid"
    FROZEN = "frozen"
    MAIN = "main"


CYCLE_UNITS: Final = {
    Kind.PAID: 80,
    Kind.TRIAL: 30,
    Kind.PACK: 20,
    Kind.UNPAID: 5,
    Kind.FROZEN: 5,
    Kind.MAIN: 20,
}
PAYMENT: Final = {Kind.PAID: 350_000, Kind.PACK: 450_000, Kind.UNPAID: 200_000}
PAYMENT_FROZEN: Final = 200_000


@dataclass(frozen=True, slots=True)
class Unit:
    """One account of the mix (a main with its leaves), and the instant it activated
    (registered, for a trial)."""

    kind: Kind
    jid: str
    at: datetime
    leaves: tuple[str, ...] = ()

    @property
    def payment(self) -> int:
        """Units of the payment that activates it: a main pays its leaves' first and
        second months too."""
        if self.kind is Kind.MAIN:
            return PLAN_PRICE * 2 * (1 + len(self.leaves)) + PACK_PRICE
        return PAYMENT.get(self.kind, PAYMENT_FROZEN)

    @property
    def registered(self) -> datetime:
        return self.at if self.kind is Kind.TRIAL else self.at - REGISTER_LEAD

    @property
    def accounts(self) -> int:
        return 1 + len(self.leaves)


def jid(index: int) -> str:
    return f"u{index:07d}@scale.example"


def cycle() -> list[Kind]:
    kinds = [kind for kind, count in CYCLE_UNITS.items() for _ in range(count)]
    random.Random(14).shuffle(kinds)
    return kinds


def instant(kind: Kind, number: int) -> datetime:
    """Spread over the month: the day from the unit's number, the second within the day
    too (renewals due the same second are not all at once)."""
    if kind is Kind.FROZEN:
        return MARCH + timedelta(days=number % 20, seconds=number % 3600)
    if kind is Kind.TRIAL:
        return APRIL + timedelta(days=20 + number % 10, seconds=number % 3600)
    return APRIL + timedelta(days=number % 30, seconds=number % 3600)


def units(accounts: int) -> Iterator[Unit]:
    """Units until ``accounts`` accounts (the last main may get fewer leaves)."""
    kinds, made, number = cycle(), 0, 0
    while made < accounts:
        kind = kinds[number % len(kinds)]
        leaves = min(1 + number % 3, accounts - made - 1) if kind is Kind.MAIN else 0
        if kind is Kind.MAIN and leaves == 0:
            kind = Kind.PAID
        unit = Unit(
            kind,
            jid(made),
            instant(kind, number),
            tuple(map(jid, range(made + 1, made + 1 + leaves))),
        )
        yield unit
        made, number = made + unit.accounts, number + 1

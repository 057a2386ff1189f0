"""When a referrer is rewarded: decided from the newcomer's ledger alone, no I/O.

A newcomer who registered with a referral code counts for its referrer once its first
*payment* (a provider's: a ledger entry of kind ``payment``; vouchers and operators'
credits are not payments) has *settled*: ``[referral] settle_days`` have passed since
it and no money was taken back meanwhile (an entry of kind ``refund``, or ``dispute``
when disputes are recorded). Conservative on purpose: the ledger says that money went
back, not always which payment it was; a reward once paid is not taken back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from payments.ledger.records import EntryKind, LedgerEntry

TAKEN_BACK: Final = frozenset({EntryKind.REFUND.value, "dispute"})  # money given back


class Verdict(StrEnum):
    NO_PAYMENT = "no_payment"  # nothing to decide yet: a payment schedules it again
    NOT_YET = "not_yet"  # paid, not settled yet: look again at ``when``
    REWARD = "reward"
    WITHHOLD = "withhold"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    when: datetime | None = None  # NOT_YET: when the first payment settles
    why: str = ""  # WITHHOLD: what was taken back


def first_payment(entries: Sequence[LedgerEntry]) -> LedgerEntry | None:
    return next((e for e in entries if e.kind is EntryKind.PAYMENT), None)


def decide(entries: Sequence[LedgerEntry], now: datetime, settle_days: int) -> Decision:
    """``entries``: the newcomer's ledger, oldest first."""
    first = first_payment(entries)
    if first is None:
        return Decision(Verdict.NO_PAYMENT)
    after = entries[entries.index(first) + 1 :]
    back = next((e for e in after if e.kind.value in TAKEN_BACK), None)
    if back is not None:
        return Decision(Verdict.WITHHOLD, why=f"{back.kind.value} {back.ref or back.id}")
    settles = first.at + timedelta(days=settle_days)
    if settles > now:
        return Decision(Verdict.NOT_YET, settles)
    return Decision(Verdict.REWARD)


class NewcomerState(StrEnum):
    SIGNED_UP = "signed_up"
    REWARDED = "rewarded"
    WITHHELD = "withheld"


@dataclass(frozen=True, slots=True)
class Stats:
    """What ``refer`` says: the code, and how many signed up and were rewarded."""

    code: str
    signups: int
    rewards: int
    withheld: int

    @classmethod
    def decode(cls, fields: Mapping[str, str]) -> Stats:
        return cls(
            fields.get("code", ""),
            int(fields.get("signups") or 0),
            int(fields.get("rewards") or 0),
            int(fields.get("withheld") or 0),
        )


def state_of(value: str) -> NewcomerState:
    """``signed_up|AT``, ``rewarded|AT|UNITS``, ``withheld|AT|WHY``: its first part."""
    return NewcomerState(value.split("|", 1)[0])

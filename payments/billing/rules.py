"""The billing cycle's rules: periods, charges, invoices, grace, freeze, closure.

Plain functions and frozen records, no I/O: the store (``payments/store/``)
reads and writes them, the cycle (``payments/cycle.py``) and the chores
(``payments/chores.py``) decide with them. A *period* is the month a renewal
pays for, written ``YYYYMM`` like the plan snapshots; an account renews on
its renewal day (the day of the month it was activated, the last day of a
shorter month), at the time of day it was activated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from payments.accounts.records import Account, AccountKind
from payments.clock import add_months, month_of, parse_instant
from payments.config import BillingConfig
from payments.errors import CorruptRecord
from payments.money import Money

MAX_CATCH_UP: Final = 24  # periods one renewal run may bill for an account left behind


# --- time --------------------------------------------------------------------


def next_renewal(due: datetime, renewal_day: int) -> datetime:
    return add_months(due, 1, renewal_day)


# --- records -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillingState:
    """The billing fields of an account's hash (beside those ``Account`` reads)."""

    plan_as_of: str = ""  # YYYYMM of the newest plan snapshot
    renewal_day: int = 0
    activated_at: datetime | None = None
    unpaid_since: datetime | None = None  # first renewal not fully paid, until all is paid
    last_period: str = ""  # the newest period renewed
    renewal_held: datetime | None = None  # a renewal found it billing-frozen: not billed since

    @classmethod
    def decode(cls, jid: str, fields: Mapping[str, str]) -> BillingState:
        try:
            return cls(
                plan_as_of=fields.get("plan_as_of", ""),
                renewal_day=int(fields.get("renewal_day") or 0),
                activated_at=parse_instant(fields.get("activated_at")),
                unpaid_since=parse_instant(fields.get("unpaid_since")),
                last_period=fields.get("last_period", ""),
                renewal_held=parse_instant(fields.get("renewal_held")),
            )
        except ValueError as exc:
            raise CorruptRecord(f"account {jid}: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A ``payment-plan_as_of_YYYYMM-{JID}`` hash: the price an account bought at."""

    plan: str
    version: int
    price: Money
    kind: str  # trial / paid / leaf
    paid_by: str = ""

    @classmethod
    def decode(cls, fields: Mapping[str, str], currency: str) -> Snapshot:
        try:
            return cls(
                plan=fields["plan"],
                version=int(fields.get("version") or 0),
                price=Money(int(fields.get("price") or 0), currency),
                kind=fields.get("kind", ""),
                paid_by=fields.get("paid_by", ""),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"plan snapshot: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Subscriber:
    """What a chore knows of one account before it acts on it."""

    account: Account
    state: BillingState
    group: str = ""  # INDEX of its payer group, when it has one
    fields: Mapping[str, str] = field(default_factory=dict)  # the hash as stored: compare-and-set


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One member of a renewal: the main itself, or a leaf it pays for."""

    member: str
    plan: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ChargeSplit:
    """How one line is paid: voucher first, then prepaid, the rest owed."""

    voucher: Money
    prepaid: Money
    due: Money

    @property
    def paid(self) -> Money:
        return self.voucher + self.prepaid


def split_charge(amount: Money, voucher: Money, prepaid: Money) -> ChargeSplit:
    """The rule ``charge.lua`` applies atomically (mirrored here for dry runs and tests)."""
    from_voucher = min(amount, max(voucher, Money.zero(amount.currency)))
    rest = amount - from_voucher
    from_prepaid = min(rest, max(prepaid, Money.zero(amount.currency)))
    return ChargeSplit(from_voucher, from_prepaid, rest - from_prepaid)


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    member: str
    plan: str
    amount: Money
    paid: Money  # paid when it was charged; the rest was settled later or is owed


@dataclass(frozen=True, slots=True)
class Invoice:
    jid: str
    period: str
    issued_at: datetime
    total: Money
    paid: Money
    due: Money
    status: InvoiceStatus
    lines: tuple[InvoiceLine, ...] = ()
    settled_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status is InvoiceStatus.OPEN

    @classmethod
    def decode(cls, jid: str, period: str, fields: Mapping[str, str], currency: str) -> Invoice:
        try:
            lines = [
                _decode_line(name[5:], text, currency)
                for name, text in fields.items()
                if name.startswith("line:")
            ]
            return cls(
                jid=jid,
                period=period,
                issued_at=datetime.fromisoformat(fields["issued_at"]),
                total=Money(int(fields["total"]), currency),
                paid=Money(int(fields["paid"]), currency),
                due=Money(int(fields["due"]), currency),
                status=InvoiceStatus(fields["status"]),
                lines=tuple(sorted(lines, key=lambda ln: (ln.member != jid, ln.member))),
                settled_at=parse_instant(fields.get("settled_at")),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"invoice {period} of {jid}: {exc!r}") from exc


def _decode_line(member: str, text: str, currency: str) -> InvoiceLine:
    plan, amount, voucher, prepaid = text.split("|")
    return InvoiceLine(
        member, plan, Money(int(amount), currency), Money(int(voucher) + int(prepaid), currency)
    )


# --- decisions ---------------------------------------------------------------


class RenewAction(StrEnum):
    UNSCHEDULE = "unschedule"  # not an account that renews (gone, closed, trial, leaf)
    RESCHEDULE = "reschedule"  # its schedule entry is stale: not due yet
    RENEW = "renew"  # due (renew.lua holds it instead if it is billing-frozen)


def renewal_action(account: Account | None, now: datetime) -> RenewAction:
    if account is None or account.closed or account.kind is not AccountKind.PAID:
        return RenewAction.UNSCHEDULE
    if account.next_renewal_at is None:
        return RenewAction.UNSCHEDULE
    if account.next_renewal_at > now:
        return RenewAction.RESCHEDULE
    return RenewAction.RENEW


@dataclass(frozen=True, slots=True)
class RenewalDates:
    """The period a renewal bills, when the next one is due, and a new renewal day if any."""

    period: str
    following: datetime
    renewal_day: int | None = None  # a new renewal day (a held renewal starts a new cycle)


def renewal_dates(state: BillingState, billed: datetime, now: datetime) -> RenewalDates:
    """A due renewal bills the month of its date; a renewal held while the account was
    billing-frozen starts a new monthly cycle now (the frozen months are not billed)."""
    if state.renewal_held is not None:
        return RenewalDates(month_of(now), next_renewal(now, now.day), now.day)
    return RenewalDates(month_of(billed), next_renewal(billed, state.renewal_day or billed.day))


def total_of(lines: Iterable[ChargeLine], currency: str) -> Money:
    return sum((line.amount for line in lines), Money.zero(currency))


def chosen_plan(account: Account, policy: BillingConfig) -> str:
    return account.next_plan or policy.default_plan


def renewal_day_of(at: datetime) -> int:
    return at.day


def grace_ends(unpaid_since: datetime, policy: BillingConfig) -> datetime:
    return unpaid_since + timedelta(days=policy.grace_days)


def closes_at(frozen_at: datetime, policy: BillingConfig) -> datetime:
    return frozen_at + timedelta(days=policy.close_after_days)


def reminder_number(unpaid_since: datetime, now: datetime, policy: BillingConfig) -> int:
    """How many whole reminder intervals have passed since the renewal failed (0: none yet)."""
    every = timedelta(days=max(policy.reminder_days, 1))
    return max((now - unpaid_since) // every, 0)


def closure_warning_due(frozen_at: datetime, now: datetime, policy: BillingConfig) -> bool:
    """The last reminder interval before closure: warn that the number will be released."""
    return now >= closes_at(frozen_at, policy) - timedelta(days=max(policy.reminder_days, 1))

"""Payer groups: a main account pays for up to ``max_leaves`` leaves .

Plain records and rules, no I/O. The store (``payments/store/groups.py``)
keeps them in Redis; the flows (``payments/group_flows.py``) run a join or a
leave as a sequence of single-account steps and use these rules to decide.

Codes: an invitation (``add JID``, for one existing trial account) and a
referral code (``invite``, for anyone who signs up with it) are both 24
symbols of Crockford's base32 (120 random bits from ``secrets``), shown in
groups of six. Typing is forgiving as for vouchers: case, dashes and spaces
do not matter, O reads as 0, I and L as 1. Every refusal of a code reads the
same (``payments.topup.vouchers.REFUSAL``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Final

from payments.accounts.records import Account, AccountKind
from payments.clock import add_months, parse_instant
from payments.errors import CorruptRecord, NotAllowed, PaymentsError
from payments.money import UNITS_PER_CENT, Money

MAX_USES: Final = 100  # the most sign-ups one referral code may allow


# --- groups -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    """``payment-leaf_jids-{INDEX}``: the main first, then its leaves."""

    index: str
    main: str
    leaves: tuple[str, ...]

    @property
    def members(self) -> tuple[str, ...]:
        return (self.main, *self.leaves)


class JoinRefusal(StrEnum):
    """Why a JID may not join a main (the bot never tells a main about the invitee's)."""

    MAIN_NOT_PAID = "main_not_paid"  # only a paid account pays for others
    MAIN_FROZEN = "main_frozen"
    MAIN_IS_LEAF = "main_is_leaf"
    GROUP_FULL = "group_full"
    SELF = "self"
    NOT_TRIAL = "not_trial"  # paid (a main, or could be one), a leaf, closed
    IN_A_GROUP = "in_a_group"  # a leaf of another main, or a main with leaves
    HOLDS_MONEY = "holds_money"  # a leaf keeps no balance of its own
    NO_ACCOUNT = "no_account"  # ``add`` invites existing accounts only
    CURRENCY = "currency"  # its money was in another currency than the main's


class MainRefused(NotAllowed):
    """The main may not pay for one more account now; the message says why (to the main)."""

    def __init__(self, reason: JoinRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def main_refusal(main: Account | None, leaves: int, max_leaves: int) -> MainRefused | None:
    """What stops ``main`` paying for one more account (its own state only)."""
    if main is None or main.closed or main.kind is AccountKind.TRIAL:
        return MainRefused(
            JoinRefusal.MAIN_NOT_PAID,
            "Only a paid account can pay for others: top up to activate yours first.",
        )
    if main.kind is AccountKind.LEAF:
        return MainRefused(
            JoinRefusal.MAIN_IS_LEAF,
            "Your account is paid for by another: it cannot pay for others.",
        )
    if main.frozen:
        return MainRefused(
            JoinRefusal.MAIN_FROZEN, "Your account is frozen: pay what is due first."
        )
    if leaves >= max_leaves:
        return MainRefused(
            JoinRefusal.GROUP_FULL, f"You already pay for {leaves} accounts, the most allowed."
        )
    return None


def leaf_refusal(
    main: str,
    leaf: Account | None,
    leaf_group: str,
    money: Money,
    *,
    new_allowed: bool,
    other_currency: bool = False,
) -> JoinRefusal | None:
    """What stops ``leaf`` joining ``main``: it must be an active trial outside any group,
    holding no money (``new_allowed``: a stranger signing up with a referral code), whose
    money (if it ever had some) was in the main's currency (``other_currency``: it was not)."""
    if leaf is not None and leaf.jid == main:
        return JoinRefusal.SELF
    if leaf is None:
        return None if new_allowed else JoinRefusal.NO_ACCOUNT
    if leaf.closed or leaf.kind is not AccountKind.TRIAL:
        return JoinRefusal.NOT_TRIAL
    if leaf_group:
        return JoinRefusal.IN_A_GROUP
    if money.units:
        return JoinRefusal.HOLDS_MONEY
    if other_currency:
        return JoinRefusal.CURRENCY
    return None


# --- what a join costs -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinPrice:
    """The main's charge for a leaf joining now: the leaf's plan, pro-rated."""

    period: str  # YYYYMM of the main's period the charge falls in (its last renewal)
    amount: Money
    paid_until: datetime  # the main's next renewal: the leaf is paid until then
    full: Money  # the plan's monthly price (what each renewal charges for the leaf)


def current_period_start(next_renewal: datetime, renewal_day: int) -> datetime:
    """The main's last renewal: one month before the next, on its renewal day."""
    return add_months(next_renewal, -1, renewal_day or next_renewal.day)


def join_price(
    price: Money,
    now: datetime,
    next_renewal: datetime,
    renewal_day: int,
    *,
    paid_until: datetime | None = None,
) -> JoinPrice:
    """``price`` for the part of the main's period still to run, to the second.

    Rounded half up to whole cents (``Money.prorate``): what a main is charged and
    reads is an amount it could have paid. Nothing is charged for a
    time already paid: a leaf that left keeps ``paid_until`` (the end of the
    period its former main paid), and a main past its renewal date (the renew
    chore has not run yet) has no time left in the period: that renewal
    charges the leaf's full month.
    """
    start = current_period_start(next_renewal, renewal_day)
    period = f"{start.year:04d}{start.month:02d}"
    begins = max(now, start, paid_until or now)
    whole = int((next_renewal - start).total_seconds())
    left = max(int((next_renewal - begins).total_seconds()), 0)
    if whole <= 0:
        amount = Money.zero(price.currency)
    elif left >= whole:
        amount = price  # the whole month: the plan's price, as a renewal charges it
    else:  # never more than the month, even for a price with a part of a cent
        amount = min(price.prorate(left, whole, step=UNITS_PER_CENT), price)
    return JoinPrice(period, amount, next_renewal, price)


def join_ref(period: str, leaf: str) -> str:
    """The idempotency key of the main's charge for ``leaf`` joining in ``period``.

    One charge per (main, leaf, period): the key lives in the main's own
    ``payment-idempotency-{MAIN}``. A leaf that leaves and comes back within
    the same period is not charged twice.
    """
    return f"join:{period}:{leaf}"


def paid_until_after_leaving(main_next_renewal: datetime | None, now: datetime) -> datetime:
    """A leaf that leaves stays paid to the end of the period its main paid for."""
    if main_next_renewal is None or main_next_renewal < now:
        return now
    return main_next_renewal


# --- moves in flight ---------------------------------------------------------------


class MoveOp(StrEnum):
    JOIN = "join"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class Move:
    """``payment-group_move-{LEAF}``: a join or leave in flight, enough to finish it.

    Written on the leaf's side before anything else changes, so a re-run after
    a crash (or the next touch of either account) completes the same move with
    the same price and idempotency key.
    """

    op: MoveOp
    main: str
    index: str
    at: datetime
    ref: str = ""  # join: the main's charge
    amount: Money | None = None  # join: what the main is charged
    plan: str = ""  # join: the leaf's plan snapshot
    version: int = 0
    price: Money | None = None  # join: the monthly price of the leaf's plan
    code: str = ""  # join: the code that led here ('' for none)
    paid_until: datetime | None = None  # leave: the end of the period already paid
    by: str = ""  # leave: who asked (the leaf, or its main)

    def fields(self) -> dict[str, str]:
        money = self.amount or self.price
        return {
            "op": self.op.value,
            "main": self.main,
            "index": self.index,
            "at": self.at.isoformat(),
            "ref": self.ref,
            "amount": str(self.amount.units) if self.amount is not None else "",
            "plan": self.plan,
            "version": str(self.version),
            "price": str(self.price.units) if self.price is not None else "",
            "code": self.code,
            "paid_until": self.paid_until.isoformat() if self.paid_until else "",
            "by": self.by,
            "currency": money.currency if money is not None else "",
        }

    @classmethod
    def decode(cls, fields: Mapping[str, str], default_currency: str) -> Move:
        """A record; its amounts in its ``currency`` (the main's), else ``default_currency``
        (a record from before currencies per account)."""
        currency = fields.get("currency") or default_currency
        try:
            return cls(
                op=MoveOp(fields["op"]),
                main=fields["main"],
                index=fields["index"],
                at=datetime.fromisoformat(fields["at"]),
                ref=fields.get("ref", ""),
                amount=_money(fields.get("amount", ""), currency),
                plan=fields.get("plan", ""),
                version=int(fields.get("version") or 0),
                price=_money(fields.get("price", ""), currency),
                code=fields.get("code", ""),
                paid_until=parse_instant(fields.get("paid_until", "")),
                by=fields.get("by", ""),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"group move: {exc!r}") from exc


def _money(text: str, currency: str) -> Money | None:
    return Money(int(text), currency) if text else None


# --- codes ---------------------------------------------------------------------------


class CodeKind(StrEnum):
    ADD = "add"  # ``add JID``: for that one trial account, accepted or declined
    REFERRAL = "referral"  # ``invite``: for whoever signs up with it


class CodeUse(StrEnum):
    ACCEPT = "accept"  # a trial account agrees to be paid for
    DECLINE = "decline"  # an invitee refuses an ``add`` invitation
    REGISTER = "register"  # a stranger signs up with a referral code


class CodeClaim(IntEnum):
    """What ``group_code_claim.lua`` answers (its first value)."""

    CLAIMED = 1
    MINE = 0  # this JID claimed it before: finish what it started
    UNKNOWN = -1  # no such code, or not for this JID or this use
    EXPIRED = -2
    USED_UP = -3
    REVOKED = -4  # revoked by its main, or declined by its invitee


@dataclass(frozen=True, slots=True)
class GroupCode:
    code: str
    kind: CodeKind
    main: str
    created_at: datetime
    expires_at: datetime
    invitee: str = ""  # ADD: the JID invited
    uses: int = 1
    used: int = 0
    status: str = "open"  # open / revoked / declined

    def live(self, now: datetime) -> bool:
        return self.status == "open" and self.used < self.uses and now < self.expires_at

    @classmethod
    def decode(cls, code: str, fields: Mapping[str, str]) -> GroupCode:
        try:
            return cls(
                code=code,
                kind=CodeKind(fields["kind"]),
                main=fields["main"],
                created_at=datetime.fromisoformat(fields["created_at"]),
                expires_at=datetime.fromisoformat(fields["expires_at"]),
                invitee=fields.get("invitee", ""),
                uses=int(fields.get("uses") or 1),
                used=int(fields.get("used") or 0),
                status=fields.get("status", "open"),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"group code: {exc!r}") from exc


def code_expiry(now: datetime, days: int) -> datetime:
    return now + timedelta(days=max(days, 1))


def check_uses(uses: int, max_leaves: int) -> int:
    """How many sign-ups a referral code allows: 1 by default, at most ``max_leaves``."""
    most = min(max_leaves, MAX_USES)
    if not 1 <= uses <= most:
        raise NotAllowed(f"a referral code is for 1 to {most} sign-ups")
    return uses


# --- refusals ---------------------------------------------------------------------


class LeafRefused(PaymentsError):
    """The JID may not join (its own state); told to that JID only, never to a main."""

    def __init__(self, reason: JoinRefusal) -> None:
        super().__init__(LEAF_REFUSALS.get(reason, LEAF_REFUSALS[JoinRefusal.NOT_TRIAL]))
        self.reason = reason


LEAF_REFUSALS: Final = {
    JoinRefusal.NOT_TRIAL: "Only a trial account can be paid for by another account.",
    JoinRefusal.IN_A_GROUP: "Your account is already paid for by another account, "
    "or pays for others.",
    JoinRefusal.HOLDS_MONEY: "Your account holds a balance, and an account paid for by "
    "another keeps none: use it first (or top up to the activation amount to keep your own).",
    JoinRefusal.SELF: "An account cannot pay for itself twice.",
    JoinRefusal.NO_ACCOUNT: "You have no account yet: send 'register CODE'.",
    JoinRefusal.CURRENCY: "Your account counts in another currency than the account that "
    "would pay for you: an account paid for by another counts in the same currency.",
}


class JoinUnpaid(PaymentsError):
    """The main's balance does not cover the join; the main is told the amount, the leaf not."""

    def __init__(self, missing: Money) -> None:
        super().__init__(
            "The account that invited you cannot pay for you right now. It has been told; "
            "try again once it has topped up."
        )
        self.missing = missing


class GroupBusy(PaymentsError):
    def __init__(self) -> None:
        super().__init__("Another change to this group is in progress: try again in a moment.")


class NotAMember(PaymentsError):
    pass

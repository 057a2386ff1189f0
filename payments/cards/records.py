"""Saved cards and what they paid: the records, as Redis holds them.

A card is stored as JSON (``payment-cards-{JID}``: the Lua scripts that note
a charge's success or failure read and write the same fields); a card
payment as one compact string (``payment-card_payments-{JID}``), like a
credit grant, so that the refund and dispute scripts update its figures.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from payments.clock import as_utc, epoch
from payments.errors import CorruptRecord
from payments.money import Money


@dataclass(frozen=True, slots=True)
class Card:
    id: str  # the provider's payment method id (pm_…)
    brand: str  # visa, mastercard, amex ...
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str  # the same card number has the same fingerprint: saved once
    added_at: datetime
    last_success: datetime | None = None
    last_failure: str = ""  # why its last charge failed ('' once one succeeded)

    @property
    def label(self) -> str:
        return f"{self.brand} …{self.last4}"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"

    @property
    def valid_until(self) -> datetime:
        """The first instant the card no longer works: the month after its expiry month."""
        last_day = calendar.monthrange(self.exp_year, self.exp_month)[1]
        return datetime(self.exp_year, self.exp_month, last_day, tzinfo=UTC) + timedelta(days=1)

    def expired(self, now: datetime) -> bool:
        return as_utc(now) >= self.valid_until

    def expiring(self, now: datetime, days: int) -> bool:
        return not self.expired(now) and as_utc(now) + timedelta(days=days) >= self.valid_until

    def encode(self) -> str:
        return json.dumps(
            {
                "brand": self.brand,
                "last4": self.last4,
                "exp_month": self.exp_month,
                "exp_year": self.exp_year,
                "fingerprint": self.fingerprint,
                "added_at": self.added_at.isoformat(),
                "last_success": epoch(self.last_success) if self.last_success else 0,
                "last_failure": self.last_failure,
            },
            sort_keys=True,
        )

    @classmethod
    def decode(cls, card_id: str, text: str) -> Card:
        try:
            data = json.loads(text)
            success = int(data.get("last_success") or 0)
            return cls(
                id=card_id,
                brand=str(data["brand"]),
                last4=str(data["last4"]),
                exp_month=int(data["exp_month"]),
                exp_year=int(data["exp_year"]),
                fingerprint=str(data["fingerprint"]),
                added_at=datetime.fromisoformat(data["added_at"]),
                last_success=datetime.fromtimestamp(success, UTC) if success else None,
                last_failure=str(data.get("last_failure") or ""),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptRecord(f"card {card_id}: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class AutoTopup:
    """``autotopup AMOUNT below THRESHOLD``, and what it did this month."""

    amount: Money
    below: Money
    failures: int = 0  # declines in a row
    last_at: datetime | None = None  # the last automatic top-up tried (the cooldown)
    month: str = ""  # YYYYMM of ``spent``
    spent: Money | None = None  # charged (or being charged) by automatic top-ups that month


@dataclass(frozen=True, slots=True)
class CardProfile:
    customer: str = ""  # the provider's customer id (cus_…), created once per account
    default: str = ""  # the default card's id
    autotopup: AutoTopup | None = None

    @classmethod
    def decode(cls, fields: Mapping[str, str], currency: str) -> CardProfile:
        try:
            auto = None
            if fields.get("autotopup_amount"):
                last = int(fields.get("autotopup_last") or 0)
                auto = AutoTopup(
                    Money(int(fields["autotopup_amount"]), currency),
                    Money(int(fields["autotopup_below"]), currency),
                    int(fields.get("autotopup_failures") or 0),
                    datetime.fromtimestamp(last, UTC) if last else None,
                    fields.get("autotopup_month", ""),
                    Money(int(fields.get("autotopup_spent") or 0), currency),
                )
            return cls(fields.get("customer", ""), fields.get("default", ""), auto)
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"card profile: {exc!r}") from exc


class Purpose(StrEnum):
    INVOICE = "invoice"  # an open invoice, paid off-session
    TOPUP = "autotopup"  # an automatic top-up


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """One off-session charge: ``key`` is the provider's idempotency key (per invoice,
    attempt and card; per automatic top-up and card), the same on every retry."""

    key: str
    purpose: Purpose
    amount: Money
    card: Card
    reason: str  # written to the ledger with the credit
    period: str = ""  # the invoice it pays (INVOICE)

    def fields(self, at: datetime) -> dict[str, str]:
        return {
            "key": self.key,
            "purpose": self.purpose.value,
            "amount": str(self.amount.units),
            "card": self.card.id,
            "reason": self.reason,
            "period": self.period,
            "started": str(epoch(at)),
        }


@dataclass(frozen=True, slots=True)
class InFlight:
    """A charge recorded before it was sent (``payment-card_charge-{JID}``)."""

    key: str
    purpose: Purpose
    amount: Money
    card: str
    reason: str
    period: str
    started: datetime

    @classmethod
    def decode(cls, fields: Mapping[str, str], currency: str) -> InFlight:
        try:
            return cls(
                fields["key"],
                Purpose(fields["purpose"]),
                Money(int(fields["amount"]), currency),
                fields["card"],
                fields.get("reason", ""),
                fields.get("period", ""),
                datetime.fromtimestamp(int(fields["started"]), UTC),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"card charge in flight: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class CardPayment:
    """Money a card paid in (an off-session charge or a Checkout top-up), and what of it
    went back (refunded) or was taken back (disputed). Stored as
    ``AMOUNT|REFUNDED|DISPUTED|EPOCH_MS|CARD|REF``."""

    payment_intent: str
    amount: Money
    refunded: Money
    disputed: Money
    at: datetime
    card: str  # "visa …4242", or "card" when the provider did not say
    ref: str  # the ledger ref of its credit

    @property
    def refundable(self) -> Money:
        return self.amount - self.refunded - self.disputed

    def encode(self) -> str:
        figures = [str(m.units) for m in (self.amount, self.refunded, self.disputed)]
        return "|".join([*figures, str(epoch_ms(self.at)), self.card, self.ref])

    @classmethod
    def decode(cls, payment_intent: str, text: str, currency: str) -> CardPayment:
        try:
            amount, refunded, disputed, at, card, ref = text.split("|", 5)
            return cls(
                payment_intent,
                Money(int(amount), currency),
                Money(int(refunded), currency),
                Money(int(disputed), currency),
                datetime.fromtimestamp(int(at) / 1000, UTC),
                card,
                ref,
            )
        except ValueError as exc:
            raise CorruptRecord(f"card payment {payment_intent}: {exc!r}") from exc


def epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch: card payments are ordered newest first by it."""
    return int(as_utc(at).timestamp() * 1000)


class DisputeStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str  # dp_…
    payment_intent: str
    amount: Money
    status: DisputeStatus
    at: datetime

    @classmethod
    def decode(cls, dispute_id: str, text: str, currency: str) -> Dispute:
        try:
            payment, amount, status, at = text.split("|")
            when = datetime.fromtimestamp(int(at), UTC)
            disputed = Money(int(amount), currency)
            return cls(dispute_id, payment, disputed, DisputeStatus(status), when)
        except ValueError as exc:
            raise CorruptRecord(f"dispute {dispute_id}: {exc!r}") from exc

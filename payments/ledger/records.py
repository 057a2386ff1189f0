"""Ledger records: what a balance change looks like once it is written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments.errors import CorruptRecord
from payments.money import Money, format_money


class Balance(StrEnum):
    PREPAID = "prepaid"
    VOUCHER = "voucher"


class EntryKind(StrEnum):
    CREDIT = "credit"  # an operator added money
    DEBIT = "debit"  # an operator took money
    REFUND = "refund"  # money given back: to a card (through the provider), or outside the service
    PAYMENT = "payment"  # a payment provider's webhook
    VOUCHER = "voucher"  # a voucher code redeemed
    CHARGE = "charge"  # the product charged the account (plan, leaf, pack)
    DISPUTE = "dispute"  # a card payment disputed (taken back), or given back (dispute won)
    REFERRAL = "referral"  # a referrer's reward (voucher balance): a newcomer's payment settled
    MOVED = "moved"  # balances carried from an account's old JID to its new one (a move)
    EXPIRED = "expired"  # credit or voucher balance that expired (credits: amount 0)
    # Credits of packs are not money: these entries have amount 0 and carry
    # `resource` and `quantity` fields (see keys.md). A purchase is a CHARGE.
    CREDITS = "credits"  # credits granted without a charge of their own (a renewal line paid)
    USAGE = "usage"  # usage settled (four times a day): what the allowance and credits covered
    CREDITS_USED = "credits_used"  # credits of one grant used by that usage
    # The sum of the entries before it, moved to the archive (``payments/ledger/archive.py``):
    # brought forward so that the stream still sums to the balance; not money that moved.
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    amount: Money  # signed: negative takes from the balance
    balance: Balance
    balance_after: Money
    kind: EntryKind
    reason: str
    ref: str
    at: datetime
    actor: str

    @classmethod
    def decode(cls, entry_id: str, fields: Mapping[str, str], currency: str) -> LedgerEntry:
        try:
            return cls(
                id=entry_id,
                amount=Money(int(fields["amount"]), currency),
                balance=Balance(fields["balance"]),
                balance_after=Money(int(fields["after"]), currency),
                kind=EntryKind(fields["kind"]),
                reason=fields["reason"],
                ref=fields["ref"],
                at=datetime.fromisoformat(fields["at"]),
                actor=fields["actor"],
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"ledger entry {entry_id}: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Balances:
    prepaid: Money
    voucher: Money
    prepaid_exists: bool  # the prepaid key is absent until the first credit

    @property
    def total(self) -> Money:
        return self.prepaid + self.voucher


@dataclass(frozen=True, slots=True)
class Applied:
    """Outcome of a balance change: ``applied`` is False for a replay of a ref."""

    applied: bool
    entry_id: str
    balance_after: Money


@dataclass(frozen=True, slots=True)
class Mismatch:
    jid: str
    balance: Balance
    stored: Money
    ledger_sum: Money
    whole: bool = False  # summed over the archive and the stream, not the stream alone


def sum_by_balance(entries: Iterable[LedgerEntry], currency: str) -> dict[Balance, Money]:
    totals = {b: Money.zero(currency) for b in Balance}
    for entry in entries:
        totals[entry.balance] += entry.amount
    return totals


def describe_entry(entry: LedgerEntry, *, with_actor: bool = True) -> str:
    """One line of a ledger for people: date, signed amount, kind, reason."""
    sign = "+" if entry.amount.units > 0 else ""
    parts = [
        entry.at.strftime("%Y-%m-%d"),
        f"{sign}{format_money(entry.amount)}" if entry.amount.units else "",
        entry.kind.value if entry.balance is Balance.PREPAID else f"{entry.kind.value} (voucher)",
        entry.reason,
    ]
    if with_actor and entry.actor:
        parts.append(f"by {entry.actor}")
    return "  ".join(p for p in parts if p)


def ref_key(ref: str) -> str:
    """The member that stands for an idempotency ref in the set of archived refs: a 63-bit
    integer of its BLAKE2b digest (an intset keeps it in 8 bytes)."""
    digest = hashlib.blake2b(ref.encode("utf-8"), digest_size=8).digest()
    return str(int.from_bytes(digest, "big") >> 1)


def refs_of(fields: Mapping[str, str]) -> list[str]:
    """The idempotency refs an entry stands for: its ``ref``, and for one part of a charge
    paid from two balances (``REF:voucher``, ``REF:prepaid``) the charge's ``REF``."""
    ref = fields.get("ref", "")
    if not ref:
        return []
    base, _, part = ref.rpartition(":")
    return [ref, base] if base and part in ("voucher", "prepaid") else [ref]

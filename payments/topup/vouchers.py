"""Vouchers: batches of long random codes, each adding to one voucher balance once.

A code is 20 symbols of Crockford's base32 (100 random bits from
``secrets``), shown in groups of five: ``7KQ2M-XD9PA-0RZ4N-W8HCT-3FYBE``.
Typing is forgiving: case, dashes and spaces do not matter, and O, I and L
read as 0, 1 and 1.

Voucher keys are global (not per account), so a redemption is two
single-key steps, each idempotent: mark the code used by this JID (a Lua
script), then credit the voucher balance with ref ``voucher:CODE``. A crash
between them is repaired when the same JID sends the same code again
(``payments_in.redeem_voucher``).

Every refusal (unknown, expired, used, malformed, too many failed attempts)
reads the same, so the answers tell nothing about which codes exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Final

from payments.money import Money

MAX_BATCH: Final = 10_000


class Claim(IntEnum):
    """What the redeem script says about a code (its first return value)."""

    CLAIMED = 1  # marked used by this JID just now
    MINE = 0  # already marked used by this same JID: finish the credit
    UNKNOWN = -1
    EXPIRED = -2
    TAKEN = -3  # used by another JID
    OTHER_CURRENCY = -4  # in another currency than the redeemer counts in


@dataclass(frozen=True, slots=True)
class VoucherBatch:
    name: str
    amount: Money
    count: int
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None  # the codes cannot be redeemed from this instant


@dataclass(frozen=True, slots=True)
class Redeemed:
    amount: Money
    voucher_balance: Money
    balance: Money  # prepaid + voucher


def check_batch(name: str, count: int) -> None:
    if not (1 <= count <= MAX_BATCH):
        raise ValueError(f"count must be between 1 and {MAX_BATCH}")
    if (
        not name
        or len(name) > 64
        or not all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in name)
    ):
        raise ValueError("a batch name is 1 to 64 letters, digits, '-', '_' or '.'")

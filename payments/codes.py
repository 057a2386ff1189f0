"""Codes people type: vouchers, invitations, referral codes.

A code is a run of random symbols of Crockford's base32 drawn with
``secrets``, shown in dash-separated groups (``7KQ2M-XD9PA-0RZ4N-W8HCT``).
Typing is forgiving: case, dashes and spaces do not matter, and O, I and L
read as 0, 1 and 1. Every refusal of a code reads the same (``REFUSAL``),
so the answers tell nothing about which codes exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from payments.errors import PaymentsError

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
REFUSAL: Final = "That code cannot be used."
_READS_AS: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class CodeRefused(PaymentsError):
    """A code that cannot be used, for whatever reason: always the same message."""

    def __init__(self) -> None:
        super().__init__(REFUSAL)


@dataclass(frozen=True, slots=True)
class CodeFormat:
    length: int  # symbols of 5 random bits each
    group: int  # symbols between dashes when shown

    def new(self) -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(self.length))

    def display(self, code: str) -> str:
        return "-".join(code[i : i + self.group] for i in range(0, len(code), self.group))

    def normalise(self, text: str) -> str | None:
        """The canonical code (no dashes, upper case), or None for text that cannot be one."""
        code = text.strip().upper().translate(_READS_AS)
        if len(code) != self.length or any(ch not in ALPHABET for ch in code):
            return None
        return code


VOUCHER_CODES: Final = CodeFormat(length=20, group=5)  # 100 random bits
GROUP_CODES: Final = CodeFormat(length=24, group=6)  # invitations and referral codes: 120 bits
# `refer`: a paid account's own code (a newcomer's `register CODE` tells it from an
# invitation by its length), and `move NEWJID`: the code the new JID claims.
REFER_CODES: Final = CodeFormat(length=25, group=5)  # 125 bits
MOVE_CODES: Final = CodeFormat(length=28, group=7)  # 140 bits

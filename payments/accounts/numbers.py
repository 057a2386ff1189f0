"""Phone numbers: E.164, one account per number and one number per account.

The account's ``number`` field (``payment-account-{JID}``) says which number
an account has; ``payment-number_owner-{NUMBER}`` says which account has a
number. Both directions are one O(1) read. The two keys are in different
slots, so an assignment is two steps (the number's side first, then the
account's) and a number is held only when both agree: a reverse entry whose
account no longer carries the number (a crash between the steps, or an
account closed by billing, which releases its number on its side only) is
stale and free to take.
"""

from __future__ import annotations

import re
from typing import Final

from payments.errors import PaymentsError

_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_SEPARATORS: Final = str.maketrans({" ": None, "-": None, ".": None, "(": None, ")": None})


class BadNumber(PaymentsError):
    """Text that is not a phone number in E.164 form."""


class NumberTaken(PaymentsError):
    def __init__(self, number: str, holder: str) -> None:
        super().__init__(f"{number} is assigned to {holder}")
        self.number = number
        self.holder = holder


def parse_e164(text: str) -> str:
    """``+1 (555) 010-0199`` -> ``+15550100199``: a ``+``, then 7 to 15 digits, not starting
    with 0. Spaces, dashes, dots and parentheses are ignored."""
    number = text.strip().translate(_SEPARATORS) if isinstance(text, str) else ""
    if not _E164.fullmatch(number):
        raise BadNumber(
            "a phone number is written in E.164: '+', the country code, then the number "
            "(7 to 15 digits), like +15550100199"
        )
    return number

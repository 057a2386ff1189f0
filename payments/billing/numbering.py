"""Invoice numbers: stable, printed on the invoice, the same every time it is shown.

An invoice is one account's period, so its number is made of both: the
configured prefix, the period and 12 hex digits of a hash of the account
(48 bits: numbers of two accounts for one period differ, for any realistic
number of accounts). Nothing is stored: the number follows from the invoice.
"""

from __future__ import annotations

import hashlib


def invoice_number(prefix: str, jid: str, period: str) -> str:
    """``INV-202611-3FA9C2D01B7E`` for ``jid``'s invoice of November 2026."""
    account = hashlib.sha256(jid.encode()).hexdigest()[:12].upper()
    return f"{prefix}{period}-{account}"

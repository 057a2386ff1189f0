"""Every Redis key name the project reads or writes, built in one place.

The JID in a key is the normalised bare JID wrapped in braces: all keys of
one account share a Redis Cluster hash slot, so one Lua script may touch all
of them. ``keys.md`` documents each key (type, writer, reader, lifetime);
keep the two in step.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "payment-"


def _account(name: str, jid: str) -> str:
    return f"{PREFIX}{name}-{{{jid}}}"


def balance_prepaid(jid: str) -> str:
    return _account("balance_prepaid", jid)


def balance_voucher(jid: str) -> str:
    return _account("balance_voucher", jid)


def transactions(jid: str) -> str:
    """The ledger stream of one account."""
    return _account("transactions", jid)


def idempotency(jid: str) -> str:
    """Hash: idempotency key of an applied balance change -> its ledger entry id."""
    return _account("idempotency", jid)


# Patterns used by `admin reconcile` to find every account that has money keys.
LEDGER_SCAN_PATTERNS: Final = (
    f"{PREFIX}transactions-{{*}}",
    f"{PREFIX}balance_prepaid-{{*}}",
    f"{PREFIX}balance_voucher-{{*}}",
)


def jid_of(key: str) -> str:
    """The JID inside an account key (the text between the outer braces)."""
    start, end = key.find("{"), key.rfind("}")
    if start < 0 or end <= start:
        raise ValueError(f"not an account key: {key!r}")
    return key[start + 1 : end]

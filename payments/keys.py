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


def account(jid: str) -> str:
    """Hash: kind, status, plan, dates of one account (absent: not a user)."""
    return _account("account", jid)


def freezes(jid: str) -> str:
    """Hash: freeze kind -> JSON record (who, when, why, state before)."""
    return _account("freezes", jid)


def plan_as_of(jid: str, yyyymm: str) -> str:
    """Hash: the plan in force from that month (id, version, price snapshot, kind, paid_by)."""
    return f"{PREFIX}plan_as_of_{yyyymm}-{{{jid}}}"


PLANS: Final = f"{PREFIX}plans"  # hash: plan id -> JSON of its current version


def plan_versions(plan_id: str) -> str:
    """Hash: version number -> JSON of that version of one plan (kept forever)."""
    return f"{PREFIX}plan_versions-{plan_id}"


# --- the bot's keys ----------------------------------------------------------

OUTBOX: Final = "bot-outbox"  # stream of notifications to send
OUTBOX_GROUP: Final = "bot"  # its consumer group


def outbox_dedupe(key: str) -> str:
    """String: marks a notification key as already queued (30 days)."""
    return f"bot-outbox_dedupe-{key}"


def rate_limit(bucket: str, jid: str, window: int) -> str:
    """Counter of one sender's requests in the current window of a bucket."""
    return f"bot-ratelimit_{bucket}-{{{jid}}}-{window}"


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

"""What metering tells people: thresholds, a blocked resource, credits about to expire.

Pure functions, like ``payments/notices.py``: each returns a notice with the
key under which the outbox queues it once (``store.outbox.notify(..., key=)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from payments.usage.credits import Grant
from payments.usage.rules import month_label, month_start, shift_month


class UsageNoticeKind(StrEnum):
    USAGE_THRESHOLD = "usage_threshold"  # 75% or 90% of what the user has this month
    RESOURCE_BLOCKED = "resource_blocked"  # 100%: allowance and credits used up
    LEAF_BLOCKED = "leaf_blocked"  # to a main: a leaf it pays for is blocked
    CREDITS_EXPIRING = "credits_expiring"


@dataclass(frozen=True, slots=True)
class UsageNotice:
    to: str
    kind: UsageNoticeKind
    body: str
    key: str


def threshold(
    jid: str, month: str, resource: str, percent: int, used: int, total: int
) -> UsageNotice:
    return UsageNotice(
        jid,
        UsageNoticeKind.USAGE_THRESHOLD,
        f"You have used {percent}% of your {resource} for {month_label(month)} "
        f"({used} of {total}). Send 'usage' for details, 'credits' for packs.",
        f"usage:{jid}:{month}:{resource}:{percent}",
    )


def blocked(jid: str, month: str, resource: str, used: int, *, leaf: bool) -> UsageNotice:
    until = month_start(shift_month(month, 1)).strftime("%Y-%m-%d")
    fix = (
        "Ask the account that pays for you to buy a pack."
        if leaf
        else "Send 'credits' to see the packs, 'buy PACK' to buy one."
    )
    return UsageNotice(
        jid,
        UsageNoticeKind.RESOURCE_BLOCKED,
        f"Your {resource} for {month_label(month)} are used up ({used} used): {resource} is "
        f"blocked until {until} or until more credits are bought. Other services still work. "
        + fix,
        # Blocked again after a pack was bought is told again: usage only grows
        # within a month, so each time it is blocked at a new count.
        f"usage:{jid}:{month}:{resource}:100:{used}",
    )


def leaf_blocked(main: str, leaf: str, month: str, resource: str, used: int) -> UsageNotice:
    return UsageNotice(
        main,
        UsageNoticeKind.LEAF_BLOCKED,
        f"{leaf}, whom you pay for, has used up its {resource} for {month_label(month)} "
        f"and your {resource} credits: send 'buy PACK' to add credits.",
        f"usage_leaf:{main}:{leaf}:{month}:{resource}:{used}",
    )


def credits_expiring(jid: str, grant: Grant) -> UsageNotice:
    day = grant.expires_at.strftime("%Y-%m-%d")
    return UsageNotice(
        jid,
        UsageNoticeKind.CREDITS_EXPIRING,
        f"{grant.left} {grant.resource} credits (pack {grant.pack}) expire on {day}. "
        "Credits are used once your monthly allowance is used up.",
        f"credits_expiring:{jid}:{grant.id}",
    )

"""What metering tells people: thresholds, a blocked resource, credits about to expire;
the words users read for resources; and how a month's usage reads (the account page,
the bot's ``usage`` and ``numbers`` say the same words).

Pure functions, like ``payments/notices.py``: each notice comes with the key
under which the outbox queues it once (``store.outbox.notify(..., key=)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from payments.clock import month_label, month_start, shift_month
from payments.notices import Notice, NoticeKind
from payments.usage.credits import Grant
from payments.usage.rules import ResourceMonth

RESOURCES: Final = {"voice_minutes": "minutes", "sms": "SMS", "mms": "MMS"}


def resource_name(resource: str) -> str:
    """``voice_minutes`` -> ``minutes``; a resource of another deployment as written."""
    return RESOURCES.get(resource, resource.replace("_", " "))


def quantities(amounts: Mapping[str, int], order: tuple[str, ...] = ()) -> str:
    """``{"sms": 100, "voice_minutes": 300}`` -> ``300 minutes, 100 SMS`` (in ``order``)."""
    ranked = sorted(amounts, key=lambda r: (order.index(r) if r in order else len(order), r))
    return ", ".join(f"{amounts[r]} {resource_name(r)}" for r in ranked)


def usage_line(line: ResourceMonth) -> str:
    """``SMS: 42 of 100 from the allowance, 12 from credits; 146 left``."""
    name = resource_name(line.resource)
    if not (line.allowance or line.from_credits or line.left):
        return f"{name}: none included"
    text = f"{name}: {line.from_allowance} of {line.allowance} from the allowance"
    if line.from_credits:
        text += f", {line.from_credits} from credits"
    return text + f"; {line.left} left"


def used_summary(lines: Iterable[ResourceMonth]) -> str:
    """``83 minutes, 42 SMS``: what a month used, or ``nothing yet``."""
    used = [f"{line.used} {resource_name(line.resource)}" for line in lines if line.used]
    return ", ".join(used) or "nothing yet"


def threshold(jid: str, month: str, resource: str, percent: int, used: int, total: int) -> Notice:
    return Notice(
        jid,
        NoticeKind.USAGE_THRESHOLD,
        f"You have used {percent}% of your {resource} for {month_label(month)} "
        f"({used} of {total}). Send 'usage' for details, 'credits' for packs.",
        f"usage:{jid}:{month}:{resource}:{percent}",
    )


def blocked(jid: str, month: str, resource: str, used: int, *, leaf: bool) -> Notice:
    until = month_start(shift_month(month, 1)).strftime("%Y-%m-%d")
    fix = (
        "Ask the account that pays for you to buy a pack."
        if leaf
        else "Send 'credits' to see the packs, 'buy PACK' to buy one."
    )
    return Notice(
        jid,
        NoticeKind.RESOURCE_BLOCKED,
        f"Your {resource} for {month_label(month)} are used up ({used} used): {resource} is "
        f"blocked until {until} or until more credits are bought. Other services still work. "
        + fix,
        # Blocked again after a pack was bought is told again: usage only grows
        # within a month, so each time it is blocked at a new count.
        f"usage:{jid}:{month}:{resource}:100:{used}",
    )


def leaf_blocked(main: str, leaf: str, month: str, resource: str, used: int) -> Notice:
    return Notice(
        main,
        NoticeKind.LEAF_BLOCKED,
        f"{leaf}, whom you pay for, has used up its {resource} for {month_label(month)} "
        f"and your {resource} credits: send 'buy PACK' to add credits.",
        f"usage_leaf:{main}:{leaf}:{month}:{resource}:{used}",
    )


def credits_expiring(jid: str, grant: Grant) -> Notice:
    day = grant.expires_at.strftime("%Y-%m-%d")
    return Notice(
        jid,
        NoticeKind.CREDITS_EXPIRING,
        f"{grant.left} {grant.resource} credits (pack {grant.pack}) expire on {day}. "
        "Credits are used once your monthly allowance is used up.",
        f"credits_expiring:{jid}:{grant.id}",
    )

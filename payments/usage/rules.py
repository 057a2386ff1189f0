"""Usage metering: resources, the gateway's usage events, months and settlement slots,
the authorize decision and the thresholds users are told about.

Plain functions and frozen records, no I/O: ``payments/store/usage.py`` keeps
the counters, ``payments/metering.py`` runs the flows. Usage counts in the
calendar month (UTC) of its ``at``; each month an account may use its plan's
allowance of a resource, then the credits of packs (its own, or for a leaf
its main's); when both are used up, that resource alone is denied.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from payments.clock import as_utc, month_of
from payments.config import UsageConfig
from payments.errors import PaymentsError
from payments.jid import BadJID, normalise_jid

EVENT_ID_RE: Final = re.compile(r"[\x21-\x7e]{1,128}", re.ASCII)  # printable ASCII, no space
SLOT_HOURS: Final = 6  # usage is settled into the ledger four times a day
# Percent of what a user has of a resource this month (used + left): told once
# each a month; reaching 100% (nothing left: blocked) is told on its own.
WARN_AT: Final = (75, 90)
FUTURE_SKEW: Final = timedelta(minutes=5)
EVENT_FIELDS: Final = ("event_id", "jid", "resource", "quantity", "at")


class Reason(StrEnum):
    """Why ``authorize`` denies."""

    UNKNOWN = "unknown"  # not an account
    CLOSED = "closed"
    FROZEN = "frozen"  # any freeze: every resource is denied
    EXHAUSTED = "exhausted"  # allowance and credits of this resource are used up


class BadBatch(PaymentsError):
    """A usage batch refused as a whole (nothing is counted); ``status`` is the HTTP one."""

    def __init__(self, message: str, *, index: int | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.index = index
        self.status = status


@dataclass(frozen=True, slots=True)
class UsageEvent:
    event_id: str
    jid: str
    resource: str
    quantity: int
    at: datetime


# --- time: months and slots ------------------------------------------------------


def event_key(name: str) -> str:
    """The member that stands for an event id (or a leaf's draw) in a set of counted events:
    a 63-bit integer of its BLAKE2b digest, which Redis keeps compactly (an intset, 8 bytes
    each, up to ``set-max-intset-entries``) where the id itself would take tens."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return str(int.from_bytes(digest, "big") >> 1)


def counted_month(at: datetime, now: datetime, late_days: int) -> str | None:
    """The month an event counts in (its own), or None when it cannot be counted: more
    than ``late_days`` old, or more than ``FUTURE_SKEW`` ahead of us. Event ids are kept
    as long as an event of their day can be counted, so a replay is always recognised."""
    at, now = as_utc(at), as_utc(now)
    if at > now + FUTURE_SKEW or at < now - timedelta(days=late_days):
        return None
    return min(month_of(at), month_of(now))  # a few minutes ahead, past midnight: this month


def event_day(at: datetime, now: datetime) -> str:
    """``YYYYMMDD``: the day whose set keeps a counted event's id (never after today)."""
    return min(as_utc(at), as_utc(now)).strftime("%Y%m%d")


def window_days(now: datetime, late_days: int) -> list[str]:
    """The days (``YYYYMMDD``, oldest first) whose sets may hold the id of an event that
    can still be counted at ``now``: a replay is looked for in all of them."""
    today = as_utc(now).date()
    return [(today - timedelta(days=back)).strftime("%Y%m%d") for back in range(late_days, -1, -1)]


def slot_of(at: datetime) -> datetime:
    """The settlement slot an instant is in: 00:00, 06:00, 12:00 or 18:00 UTC."""
    at = as_utc(at)
    return at.replace(hour=at.hour - at.hour % SLOT_HOURS, minute=0, second=0, microsecond=0)


# --- the gateway's batches ---------------------------------------------------------


def parse_body(body: bytes) -> Any:
    """JSON without floats' surprises: NaN and Infinity are refused, huge numbers too."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not allowed")

    try:
        return json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadBatch(f"the body is not JSON: {exc}") from None


def parse_batch(data: Any, policy: UsageConfig, now: datetime) -> list[UsageEvent]:
    """A batch is ``{"events": [EVENT, ...]}`` (or the bare list); every event must be valid."""
    events = data.get("events") if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise BadBatch('expected {"events": [...]}, a list of usage events')
    if not events:
        raise BadBatch("the batch has no events")
    if len(events) > policy.max_events:
        raise BadBatch(f"at most {policy.max_events} events per batch", status=413)
    return [parse_event(raw, index, policy, now) for index, raw in enumerate(events)]


def parse_event(raw: Any, index: int, policy: UsageConfig, now: datetime) -> UsageEvent:
    if not isinstance(raw, dict):
        raise BadBatch("an event is an object", index=index)
    missing = [name for name in EVENT_FIELDS if name not in raw]
    if missing:
        raise BadBatch(f"missing {', '.join(missing)}", index=index)
    event_id = raw["event_id"]
    if not isinstance(event_id, str) or not EVENT_ID_RE.fullmatch(event_id):
        raise BadBatch("event_id: 1 to 128 printable ASCII characters", index=index)
    try:
        jid = normalise_jid(raw["jid"])
    except BadJID as exc:
        raise BadBatch(f"jid: {exc}", index=index, status=422) from None
    resource = raw["resource"]
    if not isinstance(resource, str) or resource not in policy.resources:
        known = ", ".join(policy.resources)
        raise BadBatch(f"resource: unknown (known: {known})", index=index, status=422)
    return UsageEvent(
        event_id,
        jid,
        resource,
        parse_quantity(raw["quantity"], index, policy),
        parse_at(raw, index),
    )


def parse_quantity(value: Any, index: int, policy: UsageConfig) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadBatch("quantity: a whole number (JSON integer)", index=index, status=422)
    if not 0 < value <= policy.max_quantity:
        raise BadBatch(f"quantity: between 1 and {policy.max_quantity}", index=index, status=422)
    return value


def parse_at(raw: Mapping[str, Any], index: int) -> datetime:
    """ISO 8601 (UTC when it has no offset) or Unix seconds."""
    value = raw["at"]
    try:
        if isinstance(value, str) and len(value) <= 64:
            return as_utc(datetime.fromisoformat(value))
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise BadBatch("at: an ISO 8601 instant or Unix seconds", index=index, status=422)


# --- authorize ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """What authorize knows of one account and one resource, this month."""

    exists: bool
    closed: bool = False
    frozen: bool = False
    allowance: int = 0
    used: int = 0
    pool: int = 0  # credits this account may still draw on (own, or its main's); may be < 0


@dataclass(frozen=True, slots=True)
class Decision:
    allow: bool
    reason: Reason | None = None
    remaining: int = 0

    def as_json(self, jid: str, resource: str) -> dict[str, Any]:
        return {
            "jid": jid,
            "resource": resource,
            "allow": self.allow,
            "reason": self.reason.value if self.reason else None,
            "remaining": self.remaining,
        }


def remaining(allowance: int, used: int, pool: int) -> int:
    return max(allowance - used, 0) + max(pool, 0)


def decide(standing: Standing) -> Decision:
    if not standing.exists:
        return Decision(False, Reason.UNKNOWN)
    if standing.closed:
        return Decision(False, Reason.CLOSED)
    if standing.frozen:
        return Decision(False, Reason.FROZEN)
    left = remaining(standing.allowance, standing.used, standing.pool)
    if left <= 0:
        return Decision(False, Reason.EXHAUSTED)
    return Decision(True, None, left)


# --- what users are told --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One resource of one account across a batch: used and left, before and after."""

    used_before: int
    used_after: int
    left_before: int
    left_after: int


def step_of(allowance: int, used_before: int, used_after: int, pool_after: int, drawn: int) -> Step:
    """``pool_after``: credits left after the batch, which drew ``drawn`` of them."""
    return Step(
        used_before,
        used_after,
        remaining(allowance, used_before, pool_after + drawn),
        remaining(allowance, used_after, pool_after),
    )


def told_at(step: Step) -> int | None:
    """100 when the batch used up what was left (the resource is now blocked), else the
    highest of ``WARN_AT`` (percent of used + left) that it crossed."""
    if step.used_after <= step.used_before:
        return None
    if step.left_before > 0 >= step.left_after:
        return 100
    total = step.used_after + step.left_after
    hits = [t for t in WARN_AT if step.used_before * 100 < t * total <= step.used_after * 100]
    return hits[-1] if hits else None


@dataclass(frozen=True, slots=True)
class ResourceMonth:
    """One line of ``usage``: a resource this month."""

    resource: str
    allowance: int
    used: int
    from_credits: int  # beyond the allowance: drawn on credits
    left: int  # allowance left plus credits available

    @property
    def from_allowance(self) -> int:
        return self.used - self.from_credits


def month_lines(
    resources: Sequence[str],
    allowances: Mapping[str, int],
    counters: Mapping[str, str],
    pools: Mapping[str, int],
) -> list[ResourceMonth]:
    lines = []
    for resource in resources:
        allowance = int(allowances.get(resource, 0))
        used = int(counters.get(f"used:{resource}", 0))
        drawn = int(counters.get(f"credit:{resource}", 0))
        pool = pools.get(resource, 0)
        lines.append(
            ResourceMonth(resource, allowance, used, drawn, remaining(allowance, used, pool))
        )
    return lines


@dataclass(frozen=True, slots=True)
class PastResource:
    """One resource of a past month: what ``usage YYYY-MM`` says."""

    resource: str
    allowance: int  # of the plan in force that month
    used: int  # the account's own use (the account page's figure for that month)
    from_credits: int  # beyond the allowance: drawn on credits
    blocked_at: int  # used up (allowance and credits) at this count; 0: never that month

    @property
    def from_allowance(self) -> int:
        return self.used - self.from_credits

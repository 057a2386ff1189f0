"""Time as billing counts it: UTC instants, Unix scores, months written ``YYYYMM``.

A month (a billing *period*, a usage month, the suffix of a plan snapshot
or an invoice key) is always the UTC month of an instant. Naive datetimes
are taken to be UTC already (chores run with ``--now`` pass them).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """An aware instant in UTC; a naive one is taken to be UTC already."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def epoch(at: datetime) -> int:
    """Whole Unix seconds: the score of an instant in the schedules."""
    return int(as_utc(at).timestamp())


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 field of a record, or None when it is empty or absent."""
    return datetime.fromisoformat(text) if text else None


def month_of(at: datetime) -> str:
    """``YYYYMM`` of the UTC month an instant is in."""
    at = as_utc(at)
    return f"{at.year:04d}{at.month:02d}"


def shift_month(yyyymm: str, months: int) -> str:
    index = int(yyyymm[:4]) * 12 + int(yyyymm[4:]) - 1 + months
    return f"{index // 12:04d}{index % 12 + 1:02d}"


def month_start(yyyymm: str) -> datetime:
    return datetime(int(yyyymm[:4]), int(yyyymm[4:]), 1, tzinfo=UTC)


def month_label(yyyymm: str) -> str:
    """``202603`` -> ``2026-03``."""
    return f"{yyyymm[:4]}-{yyyymm[4:]}"


def add_months(at: datetime, months: int, day: int) -> datetime:
    """``at`` moved ``months`` later, on ``day`` (or the month's last day)."""
    years, month0 = divmod(at.month - 1 + months, 12)
    year, month = at.year + years, month0 + 1
    return at.replace(year=year, month=month, day=min(day, calendar.monthrange(year, month)[1]))


def day_label(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%d")


def months_back(at: datetime, count: int) -> list[str]:
    """The ``count`` months up to the month of ``at``, oldest first (``YYYYMM``)."""
    current = month_of(at)
    return [shift_month(current, -back) for back in range(count - 1, -1, -1)]

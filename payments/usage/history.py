"""Usage over past months, for people (the account page): what each month counted.

Read from the monthly counters (``payment-usage_YYYYMM-{JID}``), which outlive
their month by a year (``store.USAGE_MONTHS_KEPT``): twelve months back are
always there for an account that used anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from payments.stores import Store


@dataclass(frozen=True, slots=True)
class UsageMonth:
    month: str  # YYYYMM
    used: Mapping[str, int]  # resource -> units counted that month (own use, not a leaf's)

    def of(self, resource: str) -> int:
        return self.used.get(resource, 0)


async def usage_by_month(
    store: Store, jid: str, months: Sequence[str], resources: Sequence[str]
) -> list[UsageMonth]:
    """``jid``'s usage in each of ``months`` (in that order), one round trip."""
    counters = await store.usage.months(jid, months)
    return [
        UsageMonth(month, {r: int(found.get(f"used:{r}", 0)) for r in resources})
        for month, found in zip(months, counters, strict=True)
    ]

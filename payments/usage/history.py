"""Usage over past months, for people (the account page, the bot's ``usage YYYY-MM``):
what each month counted.

Read from the monthly counters (``payment-usage_YYYYMM-{JID}``), which outlive
their month by a year (``store.USAGE_MONTHS_KEPT``): twelve months back are
always there for an account that used anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from payments.stores import Store
from payments.usage.flow import Meter
from payments.usage.rules import PastResource


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


# --- one month, resource by resource (the bot's `usage YYYY-MM`) ---------------------------


@dataclass(frozen=True, slots=True)
class MonthReport:
    month: str
    plan: str  # the plan in force that month ('' none: not an account yet)
    lines: tuple[PastResource, ...]


async def month_report(meter: Meter, jid: str, month: str) -> MonthReport:
    """``jid``'s usage of ``month`` per resource: the allowance of the plan in force then,
    what was used (from the same counters as ``usage_by_month``), drawn on credits, and
    whether the resource was used up (blocked)."""
    store, resources = meter.store, meter.policy.resources
    ref = await store.usage.plan_in_force(jid, month)
    allowances = await meter.allowances(ref) if ref is not None else {}
    [counters] = await store.usage.months(jid, [month])
    lines = tuple(
        PastResource(
            r,
            int(allowances.get(r, 0)),
            int(counters.get(f"used:{r}", 0)),
            int(counters.get(f"credit:{r}", 0)),
            int(counters.get(f"blocked:{r}", 0)),
        )
        for r in resources
    )
    return MonthReport(month, ref.plan if ref is not None else "", lines)

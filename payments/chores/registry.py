"""Every chore by name, and the order ``chore all`` runs them in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from payments.chores import billing, referrals, repair, usage
from payments.chores.runner import Chore, ChoreReport, ChoreRun, run_chore

CHORES: Final[dict[str, Chore]] = {
    "repair": repair.repair,
    "renew": billing.renew,
    "freeze": billing.freeze,
    "close": billing.close,
    "remind": billing.remind,
    "settle-usage": usage.settle_usage,
    "expire-credits": usage.expire_credits,
    "reward-referrals": referrals.reward_referrals,
}
# The order of ``chore all``: repair first (what a crash left half done is finished and
# every schedule is whole before the others read them); usage is settled before credits expire.
ALL: Final = (
    "repair", "renew", "freeze", "close", "remind", "settle-usage", "expire-credits",
    "reward-referrals",
)  # fmt: skip


async def run_chores(run: ChoreRun, name: str) -> list[ChoreReport]:
    """Run one chore, or every chore in order for ``all``; one report each."""
    names: Iterable[str] = ALL if name == "all" else (name,)
    reports = []
    for each in names:
        if run.stop.is_set():
            break
        reports.append(await run_chore(run, each, CHORES[each]))
    return reports

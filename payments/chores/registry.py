"""Every chore by name, and the order ``chore all`` runs them in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from payments.chores import archive, billing, cards, referrals, repair, usage
from payments.chores.runner import Chore, ChoreReport, ChoreRun, run_chore

CHORES: Final[dict[str, Chore]] = {
    "repair": Chore(repair.repair, before=repair.unshard),
    "renew": Chore(billing.renew),
    "cards": Chore(cards.cards),
    "freeze": Chore(billing.freeze),
    "close": Chore(billing.close),
    "remind": Chore(billing.remind),
    "settle-usage": Chore(usage.settle_usage),
    "expire-credits": Chore(usage.expire_credits),
    "reward-referrals": Chore(referrals.reward_referrals),
    "archive-ledger": Chore(archive.archive_ledger),
}
# The order of ``chore all``: repair first (what a crash left half done is finished and
# every schedule is whole before the others read them); cards pay what a renewal left open
# before anything is frozen; usage is settled before credits expire; the ledgers are
# archived last, once the others wrote what they had to.
ALL: Final = (
    "repair", "renew", "cards", "freeze", "close", "remind", "settle-usage", "expire-credits",
    "reward-referrals", "archive-ledger",
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

"""The ``cards`` chore: the card work due (``payment-card_due``: an open invoice's scheduled
attempt, an automatic top-up, a charge a crash left in flight), and, as a backstop, every
account with automatic top-up on whose balance is below its threshold.

The web service's worker does the same work within seconds; the chore makes
sure it is done when the web service is down, and right after a renewal
(``chore all`` runs it after ``renew``, before ``freeze``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from payments.cards.work import look_at
from payments.chores.runner import ChoreReport, ChoreRun, each

PAGE: Final = 100_000  # due accounts read in one run (the rest waits for the next)


async def cards(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Do the card work due on the accounts of ``shard`` (their entries of
    ``payment-card_due-{sNN}`` and ``payment-autotopups-{sNN}``)."""
    if run.cards is None:
        run.progress("cards: no card provider enabled (saved cards are off)")
        return
    desk, now = replace(run.cards, actor=run.cycle.actor), run.now
    store = desk.store.cards
    low = await store.low_balances(await store.autotopup_holders(shard))
    if run.dry_run:
        for jid in low:
            run.progress(f"would look at {jid}: automatic top-up below its threshold")
    else:
        await store.schedule_many(low, now)
    seen = dict(await store.due(now, PAGE, shard))

    async def handle(jid: str) -> str:
        if run.dry_run:
            run.progress(f"would look at {jid}: card work due")
            return "due"
        await look_at(desk, jid, seen[jid], now)
        return "looked at"

    await each(run, report, list(seen), handle)

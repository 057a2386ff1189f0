"""The usage chores: ``settle-usage`` and ``expire-credits``, run by the chore runner.

``settle-usage`` turns usage counted since the last run into ledger entries
and credits used, once per account and slot (four slots a day: 00, 06, 12,
18 UTC; a second run in the same slot changes nothing). It visits only the
accounts of ``payment-usage_unsettled`` (shard by shard). ``expire-credits`` visits the
accounts whose earliest grant expires within the notice period: it removes
expired grants (written to the ledger as expired) and warns of those about
to expire. Both run under the framework's lock, ``--now`` and ``--dry-run``
(``runner.py``; ``registry.py`` lists them).
"""

from __future__ import annotations

from datetime import timedelta

from payments.chores.runner import ChoreReport, ChoreRun, each
from payments.usage.flow import Meter, expire_account, preview_settlement, settle_account


def meter_of(run: ChoreRun) -> Meter:
    return Meter(run.cycle.store, run.usage, run.cycle.actor)


async def settle_usage(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Settle counted usage into the ledger: usage entries and credits used, once per slot."""
    meter = meter_of(run)
    due = dict(await run.cycle.store.usage.unsettled(shard))

    async def handle(jid: str) -> str:
        if run.dry_run:
            lines = await preview_settlement(meter, jid, run.now)
            for line in lines:
                run.progress(f"would settle {jid}: {line}")
            return "would_settle" if lines else "unchanged"
        outcome = await settle_account(meter, jid, run.now, seen=due[jid])
        report.counts["ledger_entries"] += outcome.entries
        return "settled" if outcome.applied else "settled_before"

    await each(run, report, list(due), handle)


async def expire_credits(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Remove expired credits (written to the ledger) and warn of credits expiring soon."""
    meter = meter_of(run)
    horizon = run.now + timedelta(days=run.usage.expiry_notice_days)
    store = run.cycle.store

    async def handle(jid: str) -> str:
        outcome = await expire_account(meter, jid, run.now, send=not run.dry_run)
        verb = "would expire" if run.dry_run else "expired"
        for grant in outcome.expired:
            report.counts["credits_expired"] += grant.left
            run.progress(f"{verb} {grant.left} {grant.resource} credits of {jid} ({grant.id})")
        report.counts["expiry_warnings"] += len(outcome.warned)
        if run.dry_run:
            for warned in outcome.warned:
                run.progress(f"would warn {jid}: {warned.left} {warned.resource} credits expire")
        return "expired" if outcome.expired else "unchanged"

    await each(run, report, await store.credits.expiring(horizon, shard), handle)

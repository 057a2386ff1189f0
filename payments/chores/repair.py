"""The repair chore: every account of the registry looked at, what a crash left half
done finished, and the schedules rebuilt from the accounts' own state
(``payments/billing/repair.py`` says what and why)."""

from __future__ import annotations

from payments.billing.repair import repair_account
from payments.chores.runner import ChoreReport, ChoreRun, each
from payments.referrals.flow import repair_referral


async def repair(run: ChoreRun, report: ChoreReport) -> None:
    """Finish half-done sequences and write missing schedule entries, account by account."""

    async def handle(jid: str) -> str:
        fixes = await repair_account(run.cycle, jid, run.now, dry_run=run.dry_run)
        for fix in fixes.fixes:
            report.counts[fix.value] += 1
        for schedule, when in fixes.entries:
            report.counts[f"scheduled {schedule.removeprefix('payment-')}"] += 1
            if run.dry_run:
                run.progress(f"would schedule {jid} in {schedule} at {when.isoformat()}")
        done = [f.value for f in fixes.fixes]
        if fixes.referred_by:
            store, by = run.cycle.store, fixes.referred_by
            done += await repair_referral(store, jid, by, run.now, dry_run=run.dry_run)
        for what in done[len(fixes.fixes) :]:
            report.counts[what] += 1
        if run.dry_run:
            for what in done:
                run.progress(f"would {what.replace('_', ' ')}: {jid}")
        return ""

    async for page in run.cycle.store.accounts.all_jids():
        await each(run, report, page, handle)

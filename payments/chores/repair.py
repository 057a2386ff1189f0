"""The repair chore: every account of the registry looked at, what a crash left half
done finished, and the schedules rebuilt from the accounts' own state
(``payments/billing/repair.py`` says what and why; a move to a new JID and a referral
are finished by their own repairs: ``payments/moves/``, ``payments/referrals/``). It also
moves the entries of a deployment's unsharded schedules into their shards (``unshard``)."""

from __future__ import annotations

from datetime import datetime

from payments.billing.repair import Fixes, repair_account
from payments.chores.runner import ChoreReport, ChoreRun, each
from payments.moves.flow import MoveFlow, repair_move
from payments.referrals.flow import repair_referral


async def unshard(run: ChoreRun, report: ChoreReport) -> None:
    """Before the shards: a deployment's schedules and registry from before shards are
    moved into them (idempotent, so no lock: several hosts may do it at once), and a
    deployment from before the registry gets one."""
    schedules = run.cycle.store.schedules
    if run.dry_run:
        for left in await schedules.unsharded():
            report.counts[f"unsharded {left.key.removeprefix('payment-')}"] += left.entries
            run.progress(f"would move {left.entries} entries of {left.key} into its shards")
        return
    for moved in await schedules.move_unsharded():
        report.counts[f"unsharded {moved.key.removeprefix('payment-')}"] += moved.entries
        run.progress(f"moved {moved.entries} entries of {moved.key} into its shards")
    seeded = await run.cycle.store.accounts.seed_registry()
    if seeded:
        report.counts["registered"] += seeded


async def repair(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Finish half-done sequences and write missing schedule entries, account by account."""

    async def handle(jid: str) -> str:
        fixes = await repair_account(run.cycle, jid, run.now, dry_run=run.dry_run)
        for fix in fixes.fixes:
            report.counts[fix.value] += 1
        for schedule, when in fixes.entries:
            report.counts[f"scheduled {schedule.removeprefix('payment-')}"] += 1
            if run.dry_run:
                run.progress(f"would schedule {jid} in {schedule} at {when.isoformat()}")
        others = await _moves_and_referrals(run, jid, fixes, run.now)
        for what in others:
            report.counts[what] += 1
        if run.dry_run:
            for what in [*(f.value for f in fixes.fixes), *others]:
                run.progress(f"would {what.replace('_', ' ')}: {jid}")
        return ""

    async for page in run.cycle.store.accounts.all_jids(shard):
        await each(run, report, page, handle)


async def _moves_and_referrals(run: ChoreRun, jid: str, fixes: Fixes, now: datetime) -> list[str]:
    """A move of (or to) ``jid`` to finish; a referral of it to count or schedule."""
    store, done = run.cycle.store, []
    if fixes.account_move:
        moves = MoveFlow(store, run.cycle.policy, run.cycle.actor, usage=run.usage)
        done += await repair_move(moves, jid, now, dry_run=run.dry_run)
    if fixes.referred_by:
        done += await repair_referral(store, jid, fixes.referred_by, now, dry_run=run.dry_run)
    return done

"""The billing chores: ``renew``, ``remind``, ``freeze`` and ``close``.

Each reads the accounts due from one shard of its schedule and hands each one to the
billing functions (``payments/billing/``), which are idempotent per account
and period: a run killed half-way is completed by the next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from payments import keys
from payments.billing import freezes, reminders, renewal
from payments.billing.cycle import Cycle
from payments.billing.renewal import Renewed, RenewOutcome
from payments.chores.runner import (
    ChoreReport,
    ChoreRun,
    Handler,
    due,
    due_at,
    each,
    each_batch,
)
from payments.clock import month_label
from payments.money import format_exact
from payments.notices import Notice


async def renew(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Bill every paid account of the shard whose renewal date has come."""
    c, now = run.cycle, run.now
    if report.charged is None:  # the first shard
        report.charged = {}

    async def preview(jid: str) -> str:
        outcome = await renewal.preview_renewal(c, jid, now)
        _report_renewal(run, report, outcome)
        return outcome.result.value

    async def one(jid: str) -> str:
        outcome = await renewal.renew_account(c, jid, now)
        _report_renewal(run, report, outcome)
        return outcome.result.value

    async def batch(jids: list[str]) -> list[str]:
        outcomes = await renewal.renew_many(c, [(jid, when[jid]) for jid in jids], now)
        for outcome in outcomes:
            _report_renewal(run, report, outcome)
        return [outcome.result.value for outcome in outcomes]

    when = await due_at(c, keys.RENEWALS, shard, now)
    if run.dry_run:
        await each(run, report, list(when), preview)
    else:
        await each_batch(run, report, list(when), batch, one)


def _report_renewal(run: ChoreRun, report: ChoreReport, outcome: RenewOutcome) -> None:
    if outcome.result not in (Renewed.RENEWED, Renewed.INVOICED):
        return
    for line, split in outcome.lines:
        report.add_charged(split.paid)
        if run.dry_run:
            member = "" if line.member == outcome.jid else f" for {line.member}"
            run.progress(
                f"would charge {outcome.jid} {month_label(outcome.period)}: {line.plan}{member} "
                f"{format_exact(line.amount)} (voucher {format_exact(split.voucher)}, "
                f"prepaid {format_exact(split.prepaid)}, owed {format_exact(split.due)})"
            )


async def remind(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Weekly reminders while unpaid, closure warnings, low balance, trials ending."""
    c, now, send = run.cycle, run.now, not run.dry_run
    ahead = now + timedelta(days=c.policy.low_balance_days)

    def sender(
        check: Callable[[Cycle, str, datetime], Awaitable[list[Notice]]],
    ) -> Handler:
        async def handle(jid: str) -> str:
            sent = await check(c, jid, now)
            for notice in sent:
                report.counts[str(notice.kind)] += 1
                if run.dry_run:
                    run.progress(f"would tell {jid}: {notice.body}")
            return ""

        return handle

    async def unpaid(c: Cycle, jid: str, at: datetime) -> list[Notice]:
        return await reminders.remind_unpaid(c, jid, at, send=send)

    async def low(c: Cycle, jid: str, at: datetime) -> list[Notice]:
        return await reminders.warn_low_balance(c, jid, at, send=send)

    async def trial(c: Cycle, jid: str, at: datetime) -> list[Notice]:
        return await reminders.warn_trial_ending(c, jid, at, send=send)

    await each(run, report, await due(c, keys.UNPAID, shard, now), sender(unpaid))
    await each(run, report, await due(c, keys.RENEWALS, shard, ahead, since=now), sender(low))
    trials = await due(c, keys.TRIAL_ENDS, shard, ahead, since=now)
    await each(run, report, trials, sender(trial))


async def freeze(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Freeze accounts whose grace is over (leaves with their main), and ended trials."""
    c, now = run.cycle, run.now

    async def unpaid(jid: str) -> str:
        if run.dry_run:
            is_due = await freezes.freeze_is_due(c, jid, now)
            return _would(run, is_due, f"would freeze {jid} (unpaid)", "frozen")
        return (await freezes.freeze_unpaid(c, jid, now)).value

    async def trial(jid: str) -> str:
        if run.dry_run:
            is_due = await freezes.trial_end_is_due(c, jid, now)
            return _would(run, is_due, f"would freeze {jid} (trial ended)", "trial_frozen")
        result = await freezes.end_trial(c, jid, now)
        return "trial_" + result.value

    grace_from = now - timedelta(days=c.policy.grace_days)
    await each(run, report, await due(c, keys.UNPAID, shard, grace_from), unpaid)
    await each(run, report, await due(c, keys.TRIAL_ENDS, shard, now), trial)


async def close(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Close accounts billing-frozen for ``close_after_days``."""
    c, now = run.cycle, run.now

    async def handle(jid: str) -> str:
        if run.dry_run:
            is_due = await freezes.close_is_due(c, jid, now)
            return _would(run, is_due, f"would close {jid}", "closed")
        closure = await freezes.close_frozen(c, jid, now)
        for leaf in closure.detached:
            run.progress(f"detached {leaf} from {jid}")
        return closure.result.value

    frozen_from = now - timedelta(days=c.policy.close_after_days)
    await each(run, report, await due(c, keys.BILLING_FROZEN, shard, frozen_from), handle)


def _would(run: ChoreRun, due: bool, line: str, what: str) -> str:
    if due:
        run.progress(line)
        return what
    return "unchanged"

"""The billing chores: ``renew``, ``remind``, ``freeze``, ``close`` (and ``all``).

Each chore reads what is due from a schedule in Redis (never a scan of every
key), handles those accounts a few at a time with the functions of
``payments/cycle.py`` (idempotent per account and period), and reports a
summary. A chore takes a Redis lock of its own name first (SET NX PX with a
token, extended while it runs, released by compare-and-delete), so two
hosts may start it at once: the second reports that it skipped. ``--dry-run``
takes no lock and changes nothing: it reports what would change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from payments import keys
from payments.billing import cycle as billing_cycle
from payments.billing.cycle import Cycle, Renewed, RenewOutcome
from payments.billing.rules import period_label
from payments.billing.texts import Notice
from payments.chores import usage as usage_chores
from payments.errors import PaymentsError
from payments.money import Money, format_money
from payments.store.locks import DEFAULT_TTL_MS, ChoreLock
from payments.usage.rules import UsagePolicy

PAGE: Final = 5_000
PROGRESS_EVERY: Final = 1_000
DEFAULT_CONCURRENCY: Final = 16

Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


@dataclass
class ChoreRun:
    """One run of one or more chores: as of ``now``, for real or as a dry run."""

    cycle: Cycle
    now: datetime
    dry_run: bool = False
    progress: Progress = _quiet
    concurrency: int = DEFAULT_CONCURRENCY
    lock_ttl_ms: int = DEFAULT_TTL_MS
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # SIGTERM, or the lock lost
    usage: UsagePolicy = field(default_factory=UsagePolicy)  # [usage]: settle-usage, expire-credits


@dataclass
class ChoreReport:
    name: str
    due: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    charged: Money | None = None
    skipped_by: str = ""  # the lock holder, when another host runs this chore
    stopped: bool = False
    elapsed: float = 0.0

    def summary(self, dry_run: bool) -> str:
        if self.skipped_by:
            return f"{self.name}: skipped, another run holds the lock ({self.skipped_by})"
        parts = [f"{self.due} due"]
        parts += [f"{n} {what}" for what, n in sorted(self.counts.items())]
        if self.charged is not None:
            parts.append(f"{format_money(self.charged)} charged")
        parts.append(f"{self.errors} errors")
        parts.append(f"{self.elapsed:.2f}s")
        tail = "; dry run: nothing changed" if dry_run else ""
        tail += "; stopped before the end (run it again)" if self.stopped else ""
        return f"{self.name}: " + ", ".join(parts) + tail


Handler = Callable[[str], Awaitable[str]]  # handles one JID, returns what it did


# --- the chores --------------------------------------------------------------------


async def renew(run: ChoreRun, report: ChoreReport) -> None:
    """Bill every paid account whose renewal date has come."""
    c, now = run.cycle, run.now
    report.charged = c.money(0)

    async def handle(jid: str) -> str:
        if run.dry_run:
            outcome = await billing_cycle.preview_renewal(c, jid, now)
        else:
            outcome = await billing_cycle.renew_account(c, jid, now)
        _report_renewal(run, report, outcome)
        return outcome.result.value

    await _each(run, report, await _due(c, keys.RENEWALS, now), handle)


def _report_renewal(run: ChoreRun, report: ChoreReport, outcome: RenewOutcome) -> None:
    if outcome.result not in (Renewed.RENEWED, Renewed.INVOICED):
        return
    assert report.charged is not None
    for line, split in outcome.lines:
        report.charged += split.paid
        if run.dry_run:
            member = "" if line.member == outcome.jid else f" for {line.member}"
            run.progress(
                f"would charge {outcome.jid} {period_label(outcome.period)}: {line.plan}{member} "
                f"{format_money(line.amount)} (voucher {format_money(split.voucher)}, "
                f"prepaid {format_money(split.prepaid)}, owed {format_money(split.due)})"
            )


async def remind(run: ChoreRun, report: ChoreReport) -> None:
    """Weekly reminders while unpaid, closure warnings, low balance, trials ending."""
    c, now, send = run.cycle, run.now, not run.dry_run
    ahead = now + timedelta(days=c.policy.low_balance_days)

    def sender(
        check: Callable[[Cycle, str, datetime], Awaitable[list[Notice]]],
    ) -> Handler:
        async def handle(jid: str) -> str:
            sent = await check(c, jid, now)
            for notice in sent:
                report.counts[notice.kind.value] += 1
                if run.dry_run:
                    run.progress(f"would tell {jid}: {notice.body}")
            return ""

        return handle

    async def unpaid(c: Cycle, jid: str, at: datetime) -> list[Notice]:
        return await billing_cycle.remind_unpaid(c, jid, at, send=send)

    async def low(c: Cycle, jid: str, at: datetime) -> list[Notice]:
        return await billing_cycle.warn_low_balance(c, jid, at, send=send)

    async def trial(c: Cycle, jid: str, at: datetime) -> list[Notice]:
        return await billing_cycle.warn_trial_ending(c, jid, at, send=send)

    await _each(run, report, await _due(c, keys.UNPAID, now), sender(unpaid))
    await _each(run, report, await _due(c, keys.RENEWALS, ahead, since=now), sender(low))
    await _each(run, report, await _due(c, keys.TRIAL_ENDS, ahead, since=now), sender(trial))


async def freeze(run: ChoreRun, report: ChoreReport) -> None:
    """Freeze accounts whose grace is over (leaves with their main), and ended trials."""
    c, now = run.cycle, run.now

    async def unpaid(jid: str) -> str:
        if run.dry_run:
            due = await billing_cycle.freeze_is_due(c, jid, now)
            return _would(run, due, f"would freeze {jid} (unpaid)", "frozen")
        return (await billing_cycle.freeze_unpaid(c, jid, now)).value

    async def trial(jid: str) -> str:
        if run.dry_run:
            due = await billing_cycle.trial_end_is_due(c, jid, now)
            return _would(run, due, f"would freeze {jid} (trial ended)", "trial_frozen")
        result = await billing_cycle.end_trial(c, jid, now)
        return "trial_" + result.value

    grace_from = now - timedelta(days=c.policy.grace_days)
    await _each(run, report, await _due(c, keys.UNPAID, grace_from), unpaid)
    await _each(run, report, await _due(c, keys.TRIAL_ENDS, now), trial)


async def close(run: ChoreRun, report: ChoreReport) -> None:
    """Close accounts billing-frozen for ``close_after_days``."""
    c, now = run.cycle, run.now

    async def handle(jid: str) -> str:
        if run.dry_run:
            due = await billing_cycle.close_is_due(c, jid, now)
            return _would(run, due, f"would close {jid}", "closed")
        closure = await billing_cycle.close_frozen(c, jid, now)
        for leaf in closure.detached:
            run.progress(f"detached {leaf} from {jid}")
        return closure.result.value

    frozen_from = now - timedelta(days=c.policy.close_after_days)
    await _each(run, report, await _due(c, keys.BILLING_FROZEN, frozen_from), handle)


def _would(run: ChoreRun, due: bool, line: str, what: str) -> str:
    if due:
        run.progress(line)
        return what
    return "unchanged"


Chore = Callable[[ChoreRun, ChoreReport], Awaitable[None]]

CHORES: Final[dict[str, Chore]] = {
    "renew": renew,
    "freeze": freeze,
    "close": close,
    "remind": remind,
    "settle-usage": usage_chores.settle_usage,
    "expire-credits": usage_chores.expire_credits,
}
# The order of ``chore all``: usage is settled before credits expire.
ALL: Final = ("renew", "freeze", "close", "remind", "settle-usage", "expire-credits")


# --- running them ------------------------------------------------------------------


async def run_chores(run: ChoreRun, name: str) -> list[ChoreReport]:
    """Run one chore, or every chore in order for ``all``; one report each."""
    names: Iterable[str] = ALL if name == "all" else (name,)
    reports = []
    for each in names:
        if run.stop.is_set():
            break
        reports.append(await run_chore(run, each))
    return reports


async def run_chore(run: ChoreRun, name: str) -> ChoreReport:
    chore = CHORES[name]
    report = ChoreReport(name)
    run = replace(run, cycle=replace(run.cycle, actor=f"chore:{name}"))
    started = time.monotonic()
    run.progress(f"{name}: started as of {run.now.isoformat()}" + (" (dry run)" * run.dry_run))
    if run.dry_run:
        await chore(run, report)
    else:
        lock = run.cycle.store.locks.chore(name, run.lock_ttl_ms)
        async with _holding(lock, run) as held:
            if not held:
                report.skipped_by = await lock.holder() or "unknown"
            else:
                await chore(run, report)
    report.stopped = run.stop.is_set()
    report.elapsed = time.monotonic() - started
    run.progress(report.summary(run.dry_run))
    return report


@contextlib.asynccontextmanager
async def _holding(lock: ChoreLock, run: ChoreRun) -> AsyncIterator[bool]:
    if not await lock.acquire():
        yield False
        return
    keeper = asyncio.create_task(_keep(lock, run))
    try:
        yield True
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await lock.release()


async def _keep(lock: ChoreLock, run: ChoreRun) -> None:
    """Extend the lock every third of its TTL; stop the chore if it was lost."""
    while True:
        await asyncio.sleep(lock.ttl_ms / 3000)
        if not await lock.refresh():
            run.progress(f"lost the lock {lock.key}: stopping")
            run.stop.set()
            return


async def _due(
    c: Cycle, schedule: str, until: datetime, *, since: datetime | None = None
) -> list[str]:
    """Every JID of a schedule due in ``(since, until]``, read before acting on any."""
    jids: list[str] = []
    while True:
        page = await c.store.billing.due(schedule, until, PAGE, since=since, offset=len(jids))
        jids += [jid for jid, _ in page]
        if len(page) < PAGE:
            return list(dict.fromkeys(jids))


async def _each(run: ChoreRun, report: ChoreReport, jids: list[str], handle: Handler) -> None:
    """``handle`` every JID, ``run.concurrency`` at a time, counting what each did."""
    report.due += len(jids)
    pending = iter(jids)
    done = 0

    async def worker() -> None:
        nonlocal done
        for jid in pending:  # one iterator shared by the workers
            if run.stop.is_set():
                return
            try:
                what = await handle(jid)
            except PaymentsError as exc:  # a bad record: say which, go on with the others
                report.errors += 1
                run.progress(f"{report.name}: error on {jid}: {exc}")
                continue
            if what:
                report.counts[what] += 1
            done += 1
            if done % PROGRESS_EVERY == 0:
                run.progress(f"{report.name}: {done}/{len(jids)}")

    await asyncio.gather(*(worker() for _ in range(max(run.concurrency, 1))))

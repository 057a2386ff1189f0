"""Running a chore: its lock, its report, the accounts due and the workers.

A chore reads what is due from a schedule in Redis (never a scan of every
key) and handles those accounts a few at a time (``each``), counting what
it did in a ``ChoreReport``. The schedules are split into shards
(``[redis] shards``), and a chore runs shard by shard: before each it takes
the Redis lock of that chore and shard (SET NX PX with a token, extended
while it runs, released by compare-and-delete). Several hosts may start it
at once: each skips the shards another holds and takes the next free one,
so they share the work, and every shard is done once. ``--dry-run`` takes
no lock and changes nothing: it reports what would change. The chores
themselves are in ``billing.py``, ``usage.py`` and ``repair.py``;
``registry.py`` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from payments.billing.cycle import Cycle
from payments.cards.desk import Desk
from payments.config import LedgerConfig, ReferralConfig, UsageConfig
from payments.errors import PaymentsError
from payments.money import Money, format_exact
from payments.store.locks import DEFAULT_TTL_MS, ChoreLock

PAGE: Final = 5_000
BATCH: Final = 250  # accounts a batched chore handles in one set of round trips
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
    usage: UsageConfig = field(default_factory=UsageConfig)  # [usage]: settle-usage, expire-credits
    cards: Desk | None = None  # saved cards (the ``cards`` chore): None when no card provider
    referral: ReferralConfig = field(default_factory=ReferralConfig)  # [referral]: reward-referrals
    ledger: LedgerConfig = field(default_factory=LedgerConfig)  # [ledger]: archive-ledger


@dataclass
class ChoreReport:
    name: str
    due: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    charged: dict[str, Money] | None = None  # per currency (renew)
    shards: int = 0  # shards this run did
    skipped: dict[int, str] = field(default_factory=dict)  # shard -> the run that holds it
    stopped: bool = False
    elapsed: float = 0.0

    @property
    def skipped_by(self) -> str:
        """The runs (``host:pid`` of the lock holders) that had shards of this chore, ''
        when none had."""
        return ", ".join(sorted({":".join(t.split(":")[:2]) for t in self.skipped.values()}))

    def add_charged(self, amount: Money) -> None:
        charged = self.charged if self.charged is not None else {}
        before = charged.get(amount.currency, Money.zero(amount.currency))
        charged[amount.currency] = before + amount
        self.charged = charged

    def summary(self, dry_run: bool) -> str:
        if self.skipped and not self.shards:
            return f"{self.name}: skipped, another run holds the lock ({self.skipped_by})"
        parts = [f"{self.due} due"]
        parts += [f"{n} {what}" for what, n in sorted(self.counts.items())]
        if self.charged is not None:
            totals = [format_exact(m) for _, m in sorted(self.charged.items())]
            parts.append(f"{' + '.join(totals) or format_exact(Money(0))} charged")
        parts.append(f"{self.errors} errors")
        parts.append(f"{self.elapsed:.2f}s")
        tail = "; dry run: nothing changed" if dry_run else ""
        if self.skipped:
            tail += f"; {len(self.skipped)} shards left to other runs ({self.skipped_by})"
        tail += "; stopped before the end (run it again)" if self.stopped else ""
        return f"{self.name}: " + ", ".join(parts) + tail


Handler = Callable[[str], Awaitable[str]]  # handles one JID, returns what it did
BatchHandler = Callable[[list[str]], Awaitable[list[str]]]  # the same for many JIDs at once


OnShard = Callable[[ChoreRun, ChoreReport, int], Awaitable[None]]  # one shard's work
Before = Callable[[ChoreRun, ChoreReport], Awaitable[None]]


@dataclass(frozen=True)
class Chore:
    on_shard: OnShard
    # Once per run, before the shards and under no lock: idempotent work that is not
    # a shard's (the repair moving a deployment's unsharded keys into shards).
    before: Before | None = None


async def run_chore(run: ChoreRun, name: str, chore: Chore) -> ChoreReport:
    """Run ``chore`` on every shard, each under its lock (none for a dry run); its report,
    also printed."""
    report = ChoreReport(name)
    run = replace(run, cycle=replace(run.cycle, actor=f"chore:{name}"))
    started = time.monotonic()
    run.progress(f"{name}: started as of {run.now.isoformat()}" + (" (dry run)" * run.dry_run))
    if chore.before is not None:
        await chore.before(run, report)
    for shard in range(run.cycle.store.shards.count):
        if run.stop.is_set():
            break
        await _run_shard(run, report, chore, shard)
    report.stopped = run.stop.is_set()
    report.elapsed = time.monotonic() - started
    run.progress(report.summary(run.dry_run))
    return report


async def _run_shard(run: ChoreRun, report: ChoreReport, chore: Chore, shard: int) -> None:
    if run.dry_run:
        await chore.on_shard(run, report, shard)
        return
    lock = run.cycle.store.locks.chore(report.name, run.lock_ttl_ms, shard=shard)
    async with _holding(lock, run) as held:
        if not held:
            report.skipped[shard] = await lock.holder() or "unknown"
            return
        await chore.on_shard(run, report, shard)
        report.shards += 1


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


async def due(
    c: Cycle, schedule: str, shard: int, until: datetime, *, since: datetime | None = None
) -> list[str]:
    """Every JID of a schedule's shard due in ``(since, until]``, read before acting on any."""
    return list(await due_at(c, schedule, shard, until, since=since))


async def due_at(
    c: Cycle, schedule: str, shard: int, until: datetime, *, since: datetime | None = None
) -> dict[str, datetime]:
    """``due``, with the time each JID has in the schedule."""
    found: dict[str, datetime] = {}
    read = 0
    while True:
        page = await c.store.schedules.due(schedule, shard, until, PAGE, since=since, offset=read)
        found.update(page)
        read += len(page)
        if len(page) < PAGE:
            return found


async def each(run: ChoreRun, report: ChoreReport, jids: list[str], handle: Handler) -> None:
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


async def each_batch(
    run: ChoreRun, report: ChoreReport, jids: list[str], handle: BatchHandler, one: Handler
) -> None:
    """``handle`` the JIDs ``BATCH`` at a time, ``run.concurrency`` batches at once; a batch
    that fails on a bad record is handled again account by account with ``one`` (each
    account's steps are idempotent), so one bad record stops nobody else."""
    report.due += len(jids)
    batches = iter([jids[i : i + BATCH] for i in range(0, len(jids), BATCH)])

    async def worker() -> None:
        for batch in batches:  # one iterator shared by the workers
            if run.stop.is_set():
                return
            try:
                done = await handle(batch)
            except PaymentsError:
                done = [await _one(run, report, jid, one) for jid in batch]
            for what in done:
                if what:
                    report.counts[what] += 1

    await asyncio.gather(*(worker() for _ in range(max(min(run.concurrency, len(jids)), 1))))


async def _one(run: ChoreRun, report: ChoreReport, jid: str, handle: Handler) -> str:
    try:
        return await handle(jid)
    except PaymentsError as exc:
        report.errors += 1
        run.progress(f"{report.name}: error on {jid}: {exc}")
        return ""

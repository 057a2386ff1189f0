"""The ``archive-ledger`` chore: the months of each ledger older than ``[ledger] keep_months``
move from Redis to the archive (``payments/ledger/archive.py``), with the paid invoices of
those months.

For one account, in this order (each step idempotent, so a run killed anywhere is
completed by the next without losing or doubling an entry):

1. read the stream's oldest entries dated (``at``) before the cutoff month;
2. add them to the archive's files (written, fsynced, renamed over, read back: every
   entry is there as it is in Redis);
3. trim them from the stream in one script that brings their sum forward in an
   ``archived`` entry (the stream still sums to the balances) and moves the
   idempotency refs of its payments and vouchers to the set of archived refs (a replay
   is still refused; every other ref stays in the hash: ``ARCHIVED_REF_KINDS``);
4. the same for paid invoices of those months: added to the archive, read back, then
   dropped from Redis.

A crash after 2 leaves entries in both places for a while: the readers take an entry
once (by its id), the next run finds them archived already and only trims.

The chore walks the account registry shard by shard, like the repair (several hosts
share the shards; on a cluster each shard's registry is on its master), and looks at a
shard's ledgers only when the cutoff month has moved since that shard's last full pass
(``payment-ledger_archived_before-{sNN}``): run hourly by ``chore all``, it works once
a month. A ledger of a JID that never had an account (an operator's credit to a
stranger) is not in the registry and stays whole in Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from payments import keys
from payments.chores.runner import ChoreReport, ChoreRun, each
from payments.clock import month_label, month_of, shift_month
from payments.ledger.archive import ArchiveError, LedgerArchive
from payments.stores import Store

BATCH: Final = 10_000  # entries archived in one step (an old ledger takes several)

StepHook = Callable[[str], None]


class Step(StrEnum):
    """The step boundaries of archiving one account (the kill tests stop there)."""

    READ = "read"
    WRITTEN = "written"  # a file's new version written and fsynced (not yet renamed)
    RENAMED = "renamed"  # renamed over the old one, its directory fsynced
    VERIFIED = "verified"  # read back (then checked)
    TRIMMED = "trimmed"  # the stream trimmed, the sum brought forward
    INVOICES_DROPPED = "invoices_dropped"


def _quiet(_step: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Archiving:
    """One pass: the store, the archive, the cutoff month, who acts."""

    store: Store
    archive: LedgerArchive
    before: str  # YYYYMM: entries dated before this month are archived
    at: datetime
    actor: str
    hook: StepHook = _quiet


@dataclass(frozen=True, slots=True)
class Archived:
    entries: int = 0
    invoices: int = 0
    refs: int = 0


def cutoff(now: datetime, keep_months: int) -> str:
    """The month before which ledgers are archived: ``keep_months`` months stay in Redis
    before this one."""
    return shift_month(month_of(now), -keep_months)


async def archive_account(a: Archiving, jid: str) -> Archived:
    """Archive what ``jid`` holds dated before ``a.before``: its ledger's oldest entries,
    then its paid invoices of those months (in the account's currency)."""
    entries, refs = 0, 0
    currency = await a.store.currencies.of(jid)
    while batch := await a.store.ledger.archivable(jid, a.before, BATCH):
        a.hook(Step.READ)
        await asyncio.to_thread(a.archive.add_entries, jid, currency, batch, a.hook)
        trimmed = await a.store.ledger.trim_archived(
            jid, batch, before=a.before, at=a.at, actor=a.actor
        )
        if not trimmed.applied:  # another writer trimmed it: the next run looks again
            raise ArchiveError(f"{jid}: not trimmed: {trimmed.why}")
        a.hook(Step.TRIMMED)
        entries, refs = entries + trimmed.entries, refs + trimmed.refs
        if len(batch) < BATCH:
            break
    return Archived(entries, await _archive_invoices(a, jid, currency), refs)


async def _archive_invoices(a: Archiving, jid: str, currency: str) -> int:
    invoices = await a.store.billing.archivable_invoices(jid, a.before)
    if not invoices:
        return 0
    await asyncio.to_thread(a.archive.add_invoices, jid, currency, invoices, a.hook)
    dropped = await a.store.billing.drop_archived_invoices(jid, [p for p, _ in invoices])
    a.hook(Step.INVOICES_DROPPED)
    return dropped


async def archive_ledger(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Move the months before the cutoff of every ledger of one shard to the archive (once
    a month per shard)."""
    store = run.cycle.store
    if store.archive is None:  # a store built without its config (tests): nothing to move
        run.progress("archive-ledger: this store has no archive: nothing archived")
        return
    before = cutoff(run.now, run.ledger.keep_months)
    marker = keys.shard(keys.LEDGER_ARCHIVED_BEFORE, shard)
    if not run.dry_run and await store.ledger.archived_before(marker) >= before:
        return
    archiving = Archiving(store, store.archive, before, run.now, run.cycle.actor)
    await _each_ledger(run, report, archiving, shard)
    if not (run.dry_run or run.stop.is_set() or report.errors):
        await store.ledger.mark_archived_before(marker, before)
        run.progress(f"archive-ledger: shard {shard} archived before {month_label(before)}")


async def _each_ledger(
    run: ChoreRun, report: ChoreReport, archiving: Archiving, shard: int
) -> None:
    store, before = archiving.store, archiving.before

    async def handle(jid: str) -> str:
        if run.dry_run:
            found = await store.ledger.archivable(jid, before, BATCH)
            run.progress(f"would archive {len(found)} entries of {jid}")
            report.counts["entries"] += len(found)
            return "would_archive"
        done = await archive_account(archiving, jid)
        report.counts["entries"] += done.entries
        report.counts["invoices"] += done.invoices
        return "archived"

    async for page in store.accounts.all_jids(shard):
        if run.stop.is_set():
            return
        heads = await store.ledger.heads(page)
        due = [jid for jid, head in zip(page, heads, strict=True) if head and head < before]
        await each(run, report, due, handle)

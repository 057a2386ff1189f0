"""The phases of the million-account run, each timed, against a redis-server of its own.

1. load: the mix (``mix.py``) written by the bulk loader (``loader.py``);
2. renew one day: the ``renew`` chore as ``accountbot chore renew --now`` runs it
   (``run_chore``, ``--concurrency``), at the end of May 1st: the accounts due that day;
3. usage: six events of 5 sms for each account with a pack, on May 2nd, through the
   gateway's ``ingest`` (500 events a batch, as ``POST /api/v1/usage`` takes them):
   20 within the plan's allowance, 10 drawn on the pack's credits;
4. settle-usage: the chore, at 18:00 on May 2nd;
5. renew the rest of the month: the ``renew`` chore at the end of May 30th;
6. reconcile: ``accountbot admin reconcile`` (a process of its own: the CLI's code);
with ``INFO memory`` after the load and at the end.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Final

from accountbot.stack import RedisServer, free_port
from bench.scale.loader import PAYER, Loader, put_catalog
from bench.scale.mix import MARCH, Kind, Unit, units
from bench.support import config_text
from payments.billing.cycle import Cycle, default_policy
from payments.chores.registry import CHORES
from payments.chores.runner import ChoreReport, ChoreRun, run_chore
from payments.config import UsageConfig
from payments.store.connection import open_redis
from payments.stores import Store
from payments.usage.flow import Meter, ingest
from payments.usage.rules import UsageEvent

MAY_1_END: Final = datetime(2026, 5, 1, 23, 59, 59, tzinfo=UTC)
USAGE_AT: Final = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
SETTLE_AT: Final = datetime(2026, 5, 2, 18, 0, tzinfo=UTC)
MAY_30_END: Final = datetime(2026, 5, 30, 23, 59, 59, tzinfo=UTC)
POLICY: Final = default_policy("USD")
UNITS_A_BATCH: Final = 1_000
EVENTS_A_BATCH: Final = 500
EVENTS: Final = 6  # a pack account's events of USAGE_AT
QUANTITY: Final = 5


@dataclass
class Phase:
    name: str
    seconds: float
    count: int
    unit: str
    detail: str = ""

    def row(self) -> dict[str, Any]:
        rate = self.count / self.seconds if self.seconds else 0.0
        return {
            "phase": self.name, "count": self.count, "unit": self.unit,
            "seconds": round(self.seconds, 2), "per_second": round(rate, 1),
            "detail": self.detail,
        }  # fmt: skip


@dataclass
class Results:
    accounts: int
    concurrency: int
    phases: list[Phase] = field(default_factory=list)
    memory: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "concurrency": self.concurrency,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "phases": [phase.row() for phase in self.phases],
            "memory": self.memory,
        }


Say = Callable[[str], None]


async def timed(work: Awaitable[Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work
    return time.perf_counter() - started, result


def batches(items: Iterator[Unit], size: int) -> Iterator[list[Unit]]:
    while batch := list(islice(items, size)):
        yield batch


async def load(store: Store, accounts: int, say: Say) -> tuple[float, list[str]]:
    """Every unit of the mix, a batch at a time: (seconds, the JIDs with a pack)."""
    await put_catalog(store, MARCH - timedelta(days=1))
    loader, packs, made = Loader(Cycle(store, POLICY, PAYER)), [], 0
    started = time.perf_counter()
    for batch in batches(units(accounts), UNITS_A_BATCH):
        await loader.load(batch)
        packs += [u.jid for u in batch if u.kind is Kind.PACK]
        made += sum(u.accounts for u in batch)
        if made // 50_000 != (made - sum(u.accounts for u in batch)) // 50_000:
            say(f"loaded {made:,} accounts, {time.perf_counter() - started:.0f}s")
    return time.perf_counter() - started, packs


async def chore(store: Store, name: str, now: datetime, concurrency: int, say: Say) -> ChoreReport:
    run = ChoreRun(Cycle(store, POLICY), now, concurrency=concurrency, progress=_every(say, name))
    return await run_chore(run, name, CHORES[name])


def _every(say: Say, name: str) -> Say:
    """The chore's own lines, but its per-account progress only every 50,000."""

    def progress(line: str) -> None:
        counted = re.search(r": (\d+)/", line)
        if counted is None or int(counted[1]) % 50_000 == 0:
            say(line)

    return progress


def chore_phase(name: str, report: ChoreReport) -> Phase:
    counts = ", ".join(f"{n:,} {what}" for what, n in sorted(report.counts.items()))
    return Phase(name, report.elapsed, report.due, "accounts", f"{counts}; {report.errors} errors")


async def usage(store: Store, packs: Sequence[str]) -> Phase:
    """The pack accounts' events through the gateway's ingest, a batch at a time."""
    meter = Meter(store, UsageConfig())
    events = [
        UsageEvent(f"scale-{jid}-{n}", jid, "sms", QUANTITY, USAGE_AT)
        for jid in packs
        for n in range(EVENTS)
    ]
    started, counted = time.perf_counter(), 0
    for start in range(0, len(events), EVENTS_A_BATCH):
        done = await ingest(meter, events[start : start + EVENTS_A_BATCH], USAGE_AT)
        counted += done.count("counted")
    seconds = time.perf_counter() - started
    if counted != len(events):
        raise RuntimeError(f"usage: {counted} of {len(events)} events counted")
    return Phase(
        "usage ingest (gateway)", seconds, len(events), "events", f"{len(packs):,} accounts"
    )


def reconcile(config: Path) -> Phase:
    """``accountbot admin reconcile``: every ledger against its balances."""
    argv = [sys.executable, "-m", "accountbot", "--config", str(config), "admin", "reconcile"]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    found = re.search(r"reconcile: (\d+) accounts checked, (\d+) mismatches", done.stdout)
    if done.returncode != 0 or found is None or found[2] != "0":
        raise RuntimeError(f"reconcile failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    held = " ".join(line for line in done.stdout.splitlines() if line.startswith("reconcile USD"))
    return Phase(
        "admin reconcile (CLI)", seconds, int(found[1]), "accounts", f"0 mismatches; {held}"
    )


def memory(server: RedisServer) -> dict[str, int]:
    """The integer fields of ``INFO memory`` worth reading, and the number of keys."""
    wanted = ("used_memory", "used_memory_dataset", "used_memory_rss", "used_memory_peak")
    info = dict(line.split(":", 1) for line in server.info("memory").splitlines() if ":" in line)
    found = {name: int(info[name]) for name in wanted}
    keyspace = server.info("keyspace")
    found["keys"] = int(m[1]) if (m := re.search(r"keys=(\d+)", keyspace)) else 0
    return found


async def run(accounts: int, concurrency: int, say: Say) -> Results:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        store = Store(open_redis(server.url, max_connections=concurrency + 16))
        try:
            config = Path(tmp) / "config.toml"
            config.write_text(config_text(server.url, free_port()))
            return await _phases(store, server, config, Results(accounts, concurrency), say)
        finally:
            await store.close()
            if server.child is not None:
                server.child.stop()


async def _phases(
    store: Store, server: RedisServer, config: Path, results: Results, say: Say
) -> Results:
    n, c = results.accounts, results.concurrency
    seconds, packs = await load(store, n, say)
    results.phases.append(Phase("load (bulk loader)", seconds, n, "accounts", "the mix of mix.py"))
    results.memory["after_load"] = memory(server)
    day = await chore(store, "renew", MAY_1_END, c, say)
    results.phases.append(chore_phase("renew chore, May 1st (one day due)", day))
    results.phases.append(await usage(store, packs))
    settled = await chore(store, "settle-usage", SETTLE_AT, c, say)
    results.phases.append(chore_phase("settle-usage chore", settled))
    month = await chore(store, "renew", MAY_30_END, c, say)
    results.phases.append(chore_phase("renew chore, May 2nd-30th (the rest of the month)", month))
    say("admin reconcile ...")
    results.phases.append(await asyncio.to_thread(reconcile, config))
    results.memory["at_end"] = memory(server)
    return results

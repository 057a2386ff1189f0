"""Two renew chores at the same moment charge nobody twice: the shard locks split the work,
and idempotency under them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

from accountbot.stack import Stack
from payments.chores.billing import renew
from payments.chores.registry import run_chores
from payments.chores.runner import ChoreReport, ChoreRun
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import (
    POLICY,
    RENEWAL_DUE,
    charged_once,
    cycle_of,
    many_due_accounts,
)

ACCOUNTS = 300


async def fresh(url: str, count: int) -> list[str]:
    store = Store(open_redis(url))
    try:
        await store.redis.flushdb()
        return await many_due_accounts(store, count, groups=10)
    finally:
        await store.close()


async def verify(url: str, jids: list[str]) -> None:
    store = Store(open_redis(url))
    try:
        await charged_once(store, jids, "202602")
    finally:
        await store.close()


def test_two_hosts_start_renew_at_the_same_moment(redis_stack: Stack) -> None:
    jids = asyncio.run(fresh(redis_stack.redis.url, ACCOUNTS))
    argv = [sys.executable, "-m", "accountbot", "--config", str(redis_stack.config_path), "chore"]
    argv += ["renew", "--now", RENEWAL_DUE.isoformat()]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    summaries = sorted(out.strip().splitlines()[-1] for out in outs)
    # Each shard was done by one of them (the other skipped it, or found it done).
    dues = [int(m[1]) if (m := re.match(r"renew: (\d+) due", s)) else 0 for s in summaries]
    assert sum(dues) == ACCOUNTS, summaries
    asyncio.run(verify(redis_stack.redis.url, jids))


async def renew_every_shard(run: ChoreRun, report: ChoreReport) -> None:
    for shard in range(run.cycle.store.shards.count):
        await renew(run, report, shard)


def test_without_the_lock_concurrent_renewals_still_charge_once(redis_stack: Stack) -> None:
    """Four chores in one instant, bypassing the lock: idempotency alone protects the money."""
    jids = asyncio.run(fresh(redis_stack.redis.url, ACCOUNTS))

    async def race() -> list[ChoreReport]:
        stores = [Store(open_redis(redis_stack.redis.url)) for _ in range(4)]
        try:
            runs = [ChoreRun(cycle_of(s), RENEWAL_DUE, concurrency=8) for s in stores]
            reports = [ChoreReport("renew") for _ in runs]
            pairs = zip(runs, reports, strict=True)
            await asyncio.gather(*(renew_every_shard(run, r) for run, r in pairs))
            return reports
        finally:
            await asyncio.gather(*(s.close() for s in stores))

    reports = asyncio.run(race())
    assert all(r.errors == 0 for r in reports)
    assert sum(r.counts["renewed"] + r.counts["invoiced"] for r in reports) >= ACCOUNTS
    asyncio.run(verify(redis_stack.redis.url, jids))


def test_a_run_skips_the_shards_another_run_holds(redis_stack: Stack) -> None:
    async def body() -> None:
        store = Store(open_redis(redis_stack.redis.url))
        try:
            await store.redis.flushdb()
            shards = range(store.shards.count)
            holders = [store.locks.chore("renew", shard=shard) for shard in shards]
            assert all([await holder.acquire() for holder in holders])
            (report,) = await run_chores(ChoreRun(cycle_of(store), RENEWAL_DUE), "renew")
            assert set(report.skipped) == set(shards) and report.shards == 0
            assert report.summary(False).startswith("renew: skipped, another run holds the lock")
            assert await holders[3].release()
            (report,) = await run_chores(ChoreRun(cycle_of(store), RENEWAL_DUE), "renew")
            assert set(report.skipped) == set(shards) - {3} and report.shards == 1
            assert "15 shards left to other runs" in report.summary(False)
            assert await holders[3].acquire()  # released after the run
        finally:
            await store.close()

    asyncio.run(body())
    assert POLICY.grace_days == 7

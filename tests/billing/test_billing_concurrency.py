"""Two renew chores at the same moment charge nobody twice: the lock, and idempotency under it."""

from __future__ import annotations

import asyncio
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
    worked = [s for s in summaries if s.startswith(f"renew: {ACCOUNTS} due")]
    # The other one skipped (it met the lock), or started when nothing was left to do.
    idle = [s for s in summaries if "skipped, another run holds" in s or "renew: 0 due" in s]
    assert (len(worked), len(idle)) == (1, 1), summaries
    asyncio.run(verify(redis_stack.redis.url, jids))


def test_without_the_lock_concurrent_renewals_still_charge_once(redis_stack: Stack) -> None:
    """Four chores in one instant, bypassing the lock: idempotency alone protects the money."""
    jids = asyncio.run(fresh(redis_stack.redis.url, ACCOUNTS))

    async def race() -> list[ChoreReport]:
        stores = [Store(open_redis(redis_stack.redis.url)) for _ in range(4)]
        try:
            runs = [ChoreRun(cycle_of(s), RENEWAL_DUE, concurrency=8) for s in stores]
            reports = [ChoreReport("renew") for _ in runs]
            await asyncio.gather(*(renew(run, r) for run, r in zip(runs, reports, strict=True)))
            return reports
        finally:
            await asyncio.gather(*(s.close() for s in stores))

    reports = asyncio.run(race())
    assert all(r.errors == 0 for r in reports)
    assert sum(r.counts["renewed"] + r.counts["invoiced"] for r in reports) >= ACCOUNTS
    asyncio.run(verify(redis_stack.redis.url, jids))


def test_a_second_run_waits_for_the_lock_holder(redis_stack: Stack) -> None:
    async def body() -> None:
        store = Store(open_redis(redis_stack.redis.url))
        try:
            await store.redis.flushdb()
            holder = store.locks.chore("renew")
            assert await holder.acquire()
            (report,) = await run_chores(ChoreRun(cycle_of(store), RENEWAL_DUE), "renew")
            assert report.skipped_by == holder.token
            assert report.summary(False).startswith("renew: skipped, another run holds the lock")
            assert await holder.release()
            (report,) = await run_chores(ChoreRun(cycle_of(store), RENEWAL_DUE), "renew")
            assert not report.skipped_by and await store.locks.chore("renew").acquire()
        finally:
            await store.close()

    asyncio.run(body())
    assert POLICY.grace_days == 7

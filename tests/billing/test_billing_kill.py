"""Kill ``accountbot chore renew`` at random moments; re-runs still charge everyone exactly once.

6000 due accounts (20 of them mains paying for two leaves); the chore runs
as a subprocess, as systemd runs it, and is SIGKILLed 50 times at random
moments after it renewed some accounts (so a kill lands mid-work, whatever
the machine's speed), then run to completion. A killed run
leaves its lock behind: the next run on this host sees the holder's pid is
gone and takes the lock over.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time

import redis

from accountbot.stack import Stack
from payments import keys
from payments.clock import epoch
from payments.store.connection import open_redis
from payments.store.shards import Shards
from payments.stores import Store
from tests.support.billing import RENEWAL_DUE, charged_once, many_due_accounts
from tests.support.stores import sync_redis

ACCOUNTS, KILLS = 6000, 50


def renew(stack: Stack, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "accountbot", "--config", str(stack.config_path), "chore"]
    argv += ["renew", "--now", RENEWAL_DUE.isoformat(), "--concurrency", "4", *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_at_random(stack: Stack, rng: random.Random, before: int) -> str:
    """Start a run and SIGKILL it at a random moment once it renewed a random number of
    accounts (up to a few batches): mid-work, wherever it is then."""
    target = before - rng.randint(1, 100)
    proc = renew(stack)
    watch = sync_redis(stack.redis.url)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "renew: started ...": it is working now
        # Polls the schedule, the run's own progress: the trigger of the kill, not a wait
        # for an effect to assert. The short sleep then picks a moment within a batch.
        while proc.poll() is None and left_due(watch) > target:
            pass
        time.sleep(rng.uniform(0, 0.005))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        watch.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    return first


def left_due(watch: redis.Redis | redis.RedisCluster) -> int:
    with watch.pipeline(transaction=False) as pipe:  # one round trip for every shard
        for key in Shards().all(keys.RENEWALS):
            pipe.zcount(key, "-inf", epoch(RENEWAL_DUE))
        return sum(int(count) for count in pipe.execute())


async def remaining(url: str) -> int:
    store = Store(open_redis(url))
    try:
        shards = range(store.shards.count)
        return sum(
            [len(await store.schedules.due(keys.RENEWALS, s, RENEWAL_DUE, 10_000)) for s in shards]
        )
    finally:
        await store.close()


def test_killed_renewals_charge_everyone_exactly_once(redis_stack: Stack) -> None:
    async def setup() -> list[str]:
        store = Store(open_redis(redis_stack.redis.url))
        await store.redis.flushdb()
        jids = await many_due_accounts(store, ACCOUNTS, groups=20)
        await store.close()
        return jids

    jids = asyncio.run(setup())
    rng = random.Random(20260205)
    left: list[int] = []
    for _ in range(KILLS):
        first = kill_at_random(redis_stack, rng, left[-1] if left else ACCOUNTS)
        assert first.startswith("renew: started") or first == "", first
        left.append(asyncio.run(remaining(redis_stack.redis.url)))
    # A kill that landed mid-work: it renewed some accounts and left others.
    landed = sum(1 for before, n in zip([ACCOUNTS, *left], left, strict=False) if 0 < n < before)
    assert landed >= 10, f"too few kills landed mid-work: {left}"
    final = renew(redis_stack)
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0, out
    assert "0 errors" in out and "skipped" not in out, out
    assert asyncio.run(remaining(redis_stack.redis.url)) == 0

    async def verify() -> None:
        store = Store(open_redis(redis_stack.redis.url))
        try:
            await charged_once(store, jids, "202602")
        finally:
            await store.close()

    asyncio.run(verify())

"""Looking up the main of a leaf with 10 groups and with 100,000 groups, on a real redis-server.

``GroupStore.main_of(leaf)`` is two O(1) reads: GET of the leaf's
``payment-leaf_jids_index-{JID}``, then LINDEX 0 of the group's list. Its
cost must not grow with the number of groups. For each size
(``BENCH_GROUPS_SIZES``, default ``10,100000``) the groups (a main and
three leaves each) are written directly, pipelined, then ``BENCH_GROUPS_N``
lookups (default 20,000) of leaves picked at random run one after another,
as the bot makes them. The baseline, on the same server, is one GET per
lookup: the least one network round trip costs.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from accountbot.stack import RedisServer
from payments import keys
from payments.store.connection import open_redis
from payments.stores import Store

LEAVES = 3
BATCH = 2_000


def main_jid(i: int) -> str:
    return f"main{i:06d}@example.org"


def leaf_jid(i: int, n: int) -> str:
    return f"leaf{i:06d}-{n}@example.org"


async def _write_groups(store: Store, groups: int) -> None:
    for start in range(0, groups, BATCH):
        async with store.redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + BATCH, groups)):
                index = str(i + 1)
                leaves = [leaf_jid(i, n) for n in range(LEAVES)]
                pipe.rpush(keys.leaf_jids(index), main_jid(i), *leaves)
                for jid in (main_jid(i), *leaves):
                    pipe.set(keys.leaf_jids_index(jid), index)
            await pipe.execute()


async def _timed(lookups: int, one: Any) -> tuple[float, float]:
    """Seconds for ``lookups`` sequential calls, and the median of one call in µs."""
    samples = []
    started = time.perf_counter()
    for _ in range(lookups):
        t0 = time.perf_counter()
        await one()
        samples.append(time.perf_counter() - t0)
    return time.perf_counter() - started, statistics.median(samples) * 1e6


async def _measure(store: Store, groups: int, lookups: int) -> list[dict[str, Any]]:
    rng = random.Random(groups)
    picks = [(i, leaf_jid(i, rng.randrange(LEAVES))) for i in rng.choices(range(groups), k=lookups)]
    cursor = iter(picks)

    async def lookup() -> None:
        i, leaf = next(cursor)
        if await store.groups.main_of(leaf) != main_jid(i):
            raise RuntimeError(f"wrong main for {leaf}")

    baseline_cursor = iter(picks)

    async def one_get() -> None:
        await store.redis.get(keys.leaf_jids_index(next(baseline_cursor)[1]))

    elapsed, median = await _timed(lookups, lookup)
    base_elapsed, base_median = await _timed(lookups, one_get)
    common = {"groups": groups, "keys": await store.redis.dbsize(), "lookups": lookups}
    return [
        {"case": "baseline: one GET", **common, "per_second": lookups / base_elapsed,
         "median_us": base_median},
        {"case": "main_of(leaf): GET + LINDEX 0", **common, "per_second": lookups / elapsed,
         "median_us": median},
    ]  # fmt: skip


async def run() -> list[dict[str, Any]]:
    sizes = [int(s) for s in os.environ.get("BENCH_GROUPS_SIZES", "10,100000").split(",")]
    lookups = int(os.environ.get("BENCH_GROUPS_N", "20000"))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-groups-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        store = Store(open_redis(redis.url))
        try:
            for groups in sizes:
                await store.redis.flushdb()
                await _write_groups(store, groups)
                rows += await _measure(store, groups, lookups)
        finally:
            await store.close()
            if redis.child is not None:
                redis.child.stop()
    return rows


if __name__ == "__main__":
    print(asyncio.run(run()))

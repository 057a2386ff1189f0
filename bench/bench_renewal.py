"""Renewals per second against a real redis-server and a Redis Cluster, next to one
pipelined INCRBY per account.

``BENCH_RENEWAL_N`` paid accounts (default 100,000) are due at the same
instant; the ``renew`` chore bills them all (``BENCH_RENEWAL_C`` pages of 250
at a time, default 32), as ``accountbot chore renew`` does minus the process
start: per page, the unpaid entries and one ``renew`` function call per
account (it decides from the account's own state, charges voucher then
prepaid with the ledger entries, writes the invoice, moves the renewal date
on) sent as one buffer, then a round trip each to reschedule, look for
automatic top-ups and saved cards, read the invoices of those who owe, and
queue the page's notices in one ``notify`` call. The row's case also says the
Redis commands per account (``INFO commandstats``, those run inside the
functions included) and the chore's Python CPU per account. The baseline, in
the same run on the same server, is one INCRBY per account sent in
pipelines of 1,000: the cheapest possible "touch every account once".
The accounts are written directly (pipelined) in their activated state.
Then ``BENCH_RENEWAL_HOSTS_N`` fresh accounts (default 30,000) are renewed by
``accountbot chore renew`` on one host, then on three hosts at once, on the
same server (each process's start-up counted).

On a local Redis Cluster (3 masters, 3 replicas, ``BENCH_RENEWAL_CLUSTER_N``
accounts, default 30,000): the same chore in this process, then ``accountbot
chore renew`` on one host, then on three hosts at once (they share the shards).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from accountbot.stack import LocalCluster, RedisServer, free_port
from bench.support import config_text
from payments import keys
from payments.billing.cycle import Cycle, default_policy
from payments.chores.billing import renew
from payments.chores.runner import ChoreReport, ChoreRun
from payments.clock import epoch
from payments.store.connection import open_redis
from payments.stores import Store

ACTIVATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DUE = ACTIVATED + timedelta(days=31)
PRICE = 100_000  # $10.00
BATCH = 1_000


def jid(i: int) -> str:
    return f"bench{i:06d}@example.org"


async def _write_accounts(store: Store, n: int) -> None:
    """Paid accounts activated at ACTIVATED, due at DUE, holding $20 (one invoice in 10 short)."""
    for start in range(0, n, BATCH):
        async with store.redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + BATCH, n)):
                who = jid(i)
                pipe.hset(
                    keys.account(who),
                    mapping={
                        "kind": "paid",
                        "status": "active",
                        "registered_at": ACTIVATED.isoformat(),
                        "plan": "basic",
                        "plan_as_of": "202601",
                        "activated_at": ACTIVATED.isoformat(),
                        "renewal_day": str(ACTIVATED.day),
                        "next_renewal_at": DUE.isoformat(),
                        "next_renewal_ts": str(epoch(DUE)),
                        "price": str(PRICE),
                    },
                )
                pipe.hset(
                    keys.plan_as_of(who, "202601"),
                    mapping={"plan": "basic", "version": "1", "price": str(PRICE), "kind": "paid"},
                )
                pipe.set(keys.balance_prepaid(who), 0 if i % 10 == 0 else 2 * PRICE)
                pipe.zadd(store.shards.key(keys.RENEWALS, who), {who: epoch(DUE)})
            await pipe.execute()


async def _baseline(store: Store, n: int) -> float:
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        async with store.redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + BATCH, n)):
                pipe.incrby(f"bench-baseline-{{{jid(i)}}}", PRICE)
            await pipe.execute()
    return time.perf_counter() - started


async def _renewals(store: Store, n: int, concurrency: int) -> tuple[float, ChoreReport]:
    run = ChoreRun(Cycle(store, default_policy("USD"), "chore:renew"), DUE, concurrency=concurrency)
    report = ChoreReport("renew")
    started = time.perf_counter()
    for shard in range(store.shards.count):
        await renew(run, report, shard)
    elapsed = time.perf_counter() - started
    billed = report.counts["renewed"] + report.counts["invoiced"]
    if billed != n or report.errors:
        raise RuntimeError(f"renewed {billed} of {n} accounts, {report.errors} errors")
    return elapsed, report


async def _commands(store: Store) -> int:
    """Commands Redis ran since the last ``CONFIG RESETSTAT`` (each one a function runs
    counted too), the ``CONFIG`` itself left out."""
    stats: dict[str, Any] = await store.redis.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if not k.startswith("cmdstat_config"))


async def run() -> list[dict[str, Any]]:
    n = int(os.environ.get("BENCH_RENEWAL_N", "100000"))
    c = int(os.environ.get("BENCH_RENEWAL_C", "32"))
    hosts_n = int(os.environ.get("BENCH_RENEWAL_HOSTS_N", "30000"))
    with tempfile.TemporaryDirectory(prefix="bench-renewal-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        store = Store(open_redis(redis.url, max_connections=c + 8))
        try:
            await _write_accounts(store, n)
            baseline = await _baseline(store, n)
            await store.redis.config_resetstat()
            cpu = time.process_time()
            elapsed, report = await _renewals(store, n, c)
            cpu = time.process_time() - cpu
            commands = await _commands(store)
            left = await store.schedules.count(keys.RENEWALS)
            due_left = sum(
                [
                    len(await store.schedules.due(keys.RENEWALS, s, DUE, 10))
                    for s in range(store.shards.count)
                ]
            )
            config = Path(tmp) / "config.toml"
            config.write_text(config_text(redis.url, free_port()))
            on_hosts = {count: await _hosts(store, config, hosts_n, c, count) for count in (1, 3)}
        finally:
            await store.close()
            if redis.child is not None:
                redis.child.stop()
    if left != n or due_left:
        raise RuntimeError(f"{due_left} accounts still due after the chore")
    base_rate, our_rate = n / baseline, n / elapsed
    common = {"accounts": n, "concurrency": c}
    on_cluster = await _cluster_rows(int(os.environ.get("BENCH_RENEWAL_CLUSTER_N", "30000")), c)
    return [
        {"case": "baseline: one pipelined INCRBY per account", **common, "per_second": base_rate,
         "vs_baseline": 1.0},
        {"case": f"renew chore: {report.counts['invoiced']} invoiced, rest paid "
                 f"({commands / n:.1f} Redis commands, {cpu / n * 1e6:.0f} µs of Python CPU "
                 "an account)", **common,
         "per_second": our_rate, "vs_baseline": our_rate / base_rate, "summary": "renewal"},
        *({"case": f"accountbot chore renew on one redis-server, {count} host(s) at once",
           "accounts": hosts_n, "concurrency": c, "per_second": hosts_n / seconds,
           "vs_baseline": hosts_n / seconds / base_rate} for count, seconds in on_hosts.items()),
        *({**row, "vs_baseline": row["per_second"] / base_rate} for row in on_cluster),
    ]  # fmt: skip


async def _cluster_rows(n: int, c: int) -> list[dict[str, Any]]:
    """The renew chore on a local Redis Cluster (3 masters, 3 replicas): in this process as
    above, then as ``accountbot chore renew`` on one host, then on three hosts at once
    (three processes sharing the shards). Each process run counts its start-up."""
    with tempfile.TemporaryDirectory(prefix="bench-renewal-cluster-") as tmp:
        cluster = LocalCluster(Path(tmp) / "cluster")
        cluster.start()
        store = Store(open_redis(cluster.url))
        try:
            config = Path(tmp) / "config.toml"
            config.write_text(config_text(cluster.url, free_port()))
            await _write_accounts(store, n)
            in_process, _ = await _renewals(store, n, c)
            hosts = {count: await _hosts(store, config, n, c, count) for count in (1, 3)}
        finally:
            await store.close()
            cluster.stop()
    common = {"accounts": n, "concurrency": c}
    return [
        {"case": "renew chore on a Redis Cluster (3+3 nodes)", **common,
         "per_second": n / in_process},
        *({"case": f"accountbot chore renew on the cluster, {count} host(s) at once", **common,
           "per_second": n / seconds} for count, seconds in hosts.items()),
    ]  # fmt: skip


async def _hosts(store: Store, config: Path, n: int, c: int, count: int) -> float:
    """Seconds for ``count`` chore processes started at once to renew ``n`` fresh accounts."""
    await store.redis.flushdb()
    await _write_accounts(store, n)
    argv = ["-m", "accountbot", "--config", str(config), "chore", "renew"]
    argv += ["--now", DUE.isoformat(), "--concurrency", str(c)]
    started = time.perf_counter()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        for _ in range(count)
    ]
    outs = [(await proc.communicate())[0].decode() for proc in procs]
    elapsed = time.perf_counter() - started
    if any(proc.returncode for proc in procs) or await store.schedules.count(keys.RENEWALS) != n:
        raise RuntimeError("a chore process failed:\n" + "\n".join(outs))
    for shard in range(store.shards.count):
        if await store.schedules.due(keys.RENEWALS, shard, DUE, 1):
            raise RuntimeError(f"shard {shard} still has accounts due:\n" + "\n".join(outs))
    return elapsed


if __name__ == "__main__":
    print(asyncio.run(run()))

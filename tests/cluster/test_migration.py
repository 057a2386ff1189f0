"""Moving a deployment from one Redis to a cluster, as docs/operations.md says: copy every
key with ``redis-cli --cluster import``, point ``[redis] url`` at the cluster, run
``accountbot chore repair`` (it moves the unsharded schedules and registry of a version
from before shards into their shards), ``accountbot admin reconcile``, start the
services. The books are the same, and the chores find everything that was due."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from accountbot.stack import LocalCluster, RedisServer, Stack
from payments.store.connection import open_redis
from payments.store.schedules import SETS, UNSHARDED
from payments.stores import Store
from tests.support.billing import RENEWAL_DUE, charged_once, many_due_accounts
from tests.support.cluster import cluster_config, still_due

ACCOUNTS = 120


@pytest.fixture
async def old_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "old", persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def as_before_shards(store: Store) -> None:
    """Put every schedule and registry entry in its unsharded key, where a version from
    before shards kept it (its account keys are the same)."""
    for name in UNSHARDED:
        for key in store.shards.all(name):
            if name in SETS:
                members = await store.redis.smembers(key)
                if members:
                    await store.redis.sadd(name, *members)
            else:
                entries: Any = await store.redis.zrange(key, 0, -1, withscores=True)
                if entries:
                    await store.redis.zadd(name, dict(entries))
            await store.redis.delete(key)


def accountbot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accountbot", "--config", str(config), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
async def test_a_single_node_deployment_moves_to_the_cluster(
    old_redis: RedisServer, redis_cluster: LocalCluster, redis_stack: Stack, tmp_path: Path
) -> None:
    old = Store(open_redis(old_redis.url))
    try:
        jids = await many_due_accounts(old, ACCOUNTS, groups=5)
        await as_before_shards(old)
        before = int(await old.redis.dbsize())
    finally:
        await old.close()
    cluster = Store(open_redis(redis_cluster.url))
    await cluster.redis.flushdb()
    try:
        imported = subprocess.run(
            ["redis-cli", "--cluster", "import", redis_cluster.nodes[0].address,
             "--cluster-from", old_redis.address, "--cluster-copy"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert len([k async for k in cluster.redis.scan_iter(count=1000)]) == before
        assert await still_due(cluster) == 0  # unsharded: the chores would find nobody
        config = cluster_config(redis_stack, redis_cluster, tmp_path / "cluster.toml")
        repair = accountbot(config, "chore", "repair", "--now", RENEWAL_DUE.isoformat())
        assert repair.returncode == 0, repair.stdout + repair.stderr
        assert f"moved {ACCOUNTS} entries of payment-renewals into its shards" in repair.stdout
        assert await cluster.schedules.unsharded() == []
        reconcile = accountbot(config, "admin", "reconcile")
        assert reconcile.returncode == 0, reconcile.stdout
        checked = int(reconcile.stdout.split("reconcile: ")[1].split()[0])
        assert checked >= ACCOUNTS, reconcile.stdout  # every master scanned, not one
        assert await still_due(cluster) == ACCOUNTS
        renew = accountbot(config, "chore", "renew", "--now", RENEWAL_DUE.isoformat())
        assert renew.returncode == 0 and f"renew: {ACCOUNTS} due" in renew.stdout, renew.stdout
        await charged_once(cluster, jids, "202602")
    finally:
        await cluster.close()

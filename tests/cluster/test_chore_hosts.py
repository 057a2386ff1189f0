"""Three ``accountbot chore renew`` processes ("hosts") at once on the cluster: each takes
the shards the others do not hold, every shard is done by one of them, every account is
renewed once. (How much faster than one host: ``make bench``, ``renewal`` rows.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from accountbot.stack import LocalCluster, Stack
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import RENEWAL_DUE, charged_once, many_due_accounts
from tests.support.cluster import cluster_config, still_due

ACCOUNTS, HOSTS = 1500, 3
SUMMARY = re.compile(r"^renew: (\d+) due, .*?(?:; (\d+) shards left to other runs|$)", re.M)


@pytest.mark.slow
async def test_three_hosts_share_the_shards_and_renew_each_account_once(
    redis_cluster: LocalCluster, redis_stack: Stack, tmp_path: Path
) -> None:
    config = cluster_config(redis_stack, redis_cluster, tmp_path / "cluster.toml")
    store = Store(open_redis(redis_cluster.url))
    try:
        await store.redis.flushdb()
        jids = await many_due_accounts(store, ACCOUNTS, groups=20)
        argv = [sys.executable, "-m", "accountbot", "--config", str(config), "chore", "renew"]
        argv += ["--now", RENEWAL_DUE.isoformat()]
        hosts = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(HOSTS)
        ]
        outs = [host.communicate(timeout=300)[0] for host in hosts]
        assert [host.returncode for host in hosts] == [0] * HOSTS, outs
        found = [SUMMARY.search(out) for out in outs]
        assert all(found), outs
        due = [int(m[1]) for m in found if m]
        skipped = [int(m[2] or 0) for m in found if m]
        # Every shard was done once: the accounts each host found due add up to all of
        # them (a shard done twice would count its accounts twice, the second time 0).
        assert sum(due) == ACCOUNTS, outs
        assert sum(1 for n in due if n) >= 2, outs  # the work was shared
        assert all(n < store.shards.count for n in skipped), outs
        assert await still_due(store) == 0
        await charged_once(store, jids, "202602")
    finally:
        await store.close()

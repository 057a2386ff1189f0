"""Helpers of the cluster tests (tests/cluster/): a config on a cluster, the count due."""

from __future__ import annotations

from pathlib import Path

from accountbot.stack import LocalCluster, Stack
from payments import keys
from payments.clock import epoch
from payments.stores import Store
from tests.support.billing import RENEWAL_DUE


def cluster_config(stack: Stack, cluster: LocalCluster, path: Path) -> Path:
    """The session's accountbot config, with ``[redis] url`` naming ``cluster``."""
    return stack.write_config(path=path, redis={"url": cluster.url})


async def still_due(store: Store) -> int:
    """Accounts still due at RENEWAL_DUE, over every shard, in one round trip."""
    async with store.redis.pipeline(transaction=False) as pipe:
        for key in store.shards.all(keys.RENEWALS):
            pipe.zcount(key, "-inf", epoch(RENEWAL_DUE))
        return sum(int(n) for n in await pipe.execute())

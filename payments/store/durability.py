"""Money is acknowledged only once it is safe: on ``[redis] wait_replicas`` replicas.

Replication is asynchronous: a master that dies right after a write may take
it with it, and the replica promoted in its place never had it. So before a
webhook answers 2xx, a usage batch is acknowledged or an operator is told
"credited", ``confirm`` runs ``WAIT`` on the master of each account written.

``WAIT`` counts the replicas that have the *connection's* last write, so it is
sent in one pipeline (one connection) right after a write of its own, in the
account's hash slot (``payment-durable-{JID}``): replication is one ordered
stream per master, so once that write is on a replica, so is everything the
master did before it, whichever connection did it.

The node's own promise is its AOF: a master writes every command to its AOF
before it answers, so a killed redis-server loses nothing it acknowledged;
``appendfsync`` says how much a power cut may take (``everysec``: about a
second). Redis 7.0 (Debian 12) has no ``WAITAOF`` (7.2+) to wait for the
fsync itself; docs/operations.md says how to choose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterNode

from payments import keys
from payments.config import AUTO_REPLICAS
from payments.errors import NotYetDurable
from payments.store.connection import RedisClient

FENCE_SECONDS: Final = 60


@dataclass(frozen=True)
class DurabilityPolicy:
    replicas: int = AUTO_REPLICAS  # AUTO: 1 on a cluster, 0 on one node
    timeout_ms: int = 1000


class Durability:
    def __init__(self, redis: RedisClient, policy: DurabilityPolicy) -> None:
        self._redis = redis
        self.policy = policy

    def wanted(self) -> int:
        """Replicas to wait for. Left to AUTO, a cluster waits for one (a cluster without
        replicas sets 0: it fails closed, every acknowledgement refused, rather than
        acknowledging what a failover would lose), one node for none."""
        if self.policy.replicas != AUTO_REPLICAS:
            return self.policy.replicas
        return 1 if isinstance(self._redis, RedisCluster) else 0

    async def confirm(self, jids: Iterable[str]) -> None:
        """Return once what was written for ``jids`` is on the replicas asked for; raise
        NotYetDurable when the wait times out (the write stays: do it again by its ref)."""
        wanted = self.wanted()
        if wanted == 0:
            return
        fences = await self._fences(dict.fromkeys(jids))
        acknowledged = await asyncio.gather(*(self._wait(j, n, wanted) for j, n in fences))
        if acknowledged and min(acknowledged) < wanted:
            raise NotYetDurable(min(acknowledged), wanted, self.policy.timeout_ms)

    async def _fences(self, jids: Iterable[str]) -> list[tuple[str, ClusterNode | None]]:
        """One JID per master written to (its slot holds the fence of that master)."""
        if not isinstance(self._redis, RedisCluster):
            first = next(iter(jids), None)
            return [] if first is None else [(first, None)]
        await self._redis.initialize()
        by_node: dict[str, tuple[str, ClusterNode | None]] = {}
        for jid in jids:
            node = self._redis.get_node_from_key(keys.durable(jid))
            if node is not None:
                by_node.setdefault(node.name, (jid, node))
        return list(by_node.values())

    async def _wait(self, jid: str, node: ClusterNode | None, wanted: int) -> int:
        targets = {} if node is None else {"target_nodes": node}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.durable(jid), "1", ex=FENCE_SECONDS)
            pipe.wait(wanted, self.policy.timeout_ms, **targets)
            _, acknowledged = await pipe.execute()
        return int(acknowledged)

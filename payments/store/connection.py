"""Opening Redis: one node or a cluster, one client per process.

``[redis] url`` names either one node (``redis://host:port/db``, ``rediss://`` for
TLS) or a Redis Cluster (``redis+cluster://[user:password@]host:port[,host:port...]``,
``rediss+cluster://`` for TLS: any reachable nodes, the client discovers the rest).
Every store takes a ``RedisClient``: the same calls work on both, because every
script, transaction and multi-key command of the store stays in one hash slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from payments.config import ConfigError
from payments.store.wire import BatchingRedis, with_hiredis_packing

# redis-py's plain async pool raises MaxConnectionsError past its cap; a
# blocking pool waits up to `timeout` seconds for a free connection instead.
DEFAULT_MAX_CONNECTIONS: Final = 64
# The cluster client has no blocking pool: its cap is per node and raises when
# reached, so it is set far above what one process keeps in flight.
CLUSTER_MAX_CONNECTIONS_PER_NODE: Final = 1024
CLUSTER_SCHEMES: Final = {"redis+cluster": False, "rediss+cluster": True}  # -> TLS

RedisClient = Redis | RedisCluster


class BadRedisUrl(ConfigError):
    """``[redis] url`` is not a URL this client understands (a config error: start-up stops)."""


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0] in CLUSTER_SCHEMES


def open_redis(url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> RedisClient:
    if is_cluster_url(url):
        return open_cluster(url)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10, decode_responses=True
    )
    pool.connection_class = with_hiredis_packing(pool.connection_class)
    return BatchingRedis.from_pool(pool)  # the client owns the pool: aclose() closes it


class ClusterClient(RedisCluster):
    """redis-py's cluster client, with two fixes.

    - It discovers the cluster before the first command runs: redis-py 8 does it
      lazily, and commands started together on a new client race it (measured: 18
      of 800 first commands failed with ``'NoneType' object has no attribute
      'writelines'``; none once discovered first).
    - It routes ``FCALL`` by the keys written in the command: redis-py reads the keys
      of EVAL and EVALSHA from the command itself but asks the server for those of
      FCALL (``COMMAND GETKEYS``: one more round trip per call, which made the renew
      chore three times slower); FCALL names its keys the same way (function, number
      of keys, keys...), so it is routed as EVALSHA is, with the same refusal of keys
      in two slots."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            await self.initialize()  # under redis-py's lock: the others wait for it
        return await super().execute_command(*args, **kwargs)

    async def _determine_slot(self, command: str, *args: Any) -> int:
        if command.upper() in ("FCALL", "FCALL_RO") and len(args) > 1 and int(args[1]) > 0:
            return await super()._determine_slot("EVALSHA", *args)
        return await super()._determine_slot(command, *args)


def open_cluster(url: str) -> RedisCluster:
    where = parse_cluster_url(url)
    return ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in where.nodes],
        decode_responses=True,
        max_connections=CLUSTER_MAX_CONNECTIONS_PER_NODE,
        ssl=where.tls,
        username=where.username,
        password=where.password,
    )


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False


def parse_cluster_url(url: str) -> ClusterUrl:
    """The startup nodes, the credentials and TLS of a ``redis+cluster://`` URL."""
    scheme, _, rest = url.partition("://")
    if scheme not in CLUSTER_SCHEMES:
        raise BadRedisUrl("[redis] url: expected redis+cluster://host:port[,host:port]")
    parts = urlsplit(f"//{rest}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if parts.path.strip("/") not in ("", "0") or parts.query:
        raise BadRedisUrl("[redis] url: a Redis Cluster URL names nodes only (its database is 0)")
    nodes = tuple(_host_port(item) for item in hosts.split(",") if item)
    if not nodes:
        raise BadRedisUrl("[redis] url: no node: expected redis+cluster://host:port[,host:port]")
    user, _, password = userinfo.partition(":")
    return ClusterUrl(
        nodes, unquote(user) or None, unquote(password) or None, CLUSTER_SCHEMES[scheme]
    )


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadRedisUrl(f"[redis] url: expected host:port, not {item!r}")
    return host.strip("[]"), int(port)

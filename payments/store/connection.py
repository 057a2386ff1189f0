"""Opening Redis: one pool per process, waiting (not failing) when it is busy."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

# redis-py's plain async pool raises MaxConnectionsError past its cap; a
# blocking pool waits up to `timeout` seconds for a free connection instead.
DEFAULT_MAX_CONNECTIONS = 64


def open_redis(url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10, decode_responses=True
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it

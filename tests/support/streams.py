"""Reading Redis in tests with the types our clients return.

redis-py types every reply as ``bytes | str`` (and a stream entry's parts as
optional) whatever ``decode_responses`` says; the project's clients, and the
fakeredis ones of the tests, decode: a reply that is not a ``str`` is a
broken setup, reported as such.
"""

from __future__ import annotations

from redis.typing import StreamRangeResponse

from payments.store.connection import RedisClient

Entry = tuple[str, dict[str, str]]  # a stream entry: (id, fields)


def text(value: bytes | str | None) -> str:
    assert isinstance(value, str), f"{value!r}: the project's Redis clients decode replies"
    return value


def entries(raw: StreamRangeResponse | None) -> list[Entry]:
    """The entries of an XRANGE or XREVRANGE reply."""
    assert raw is not None, "XRANGE answers a list, empty for a missing stream"
    return [
        (text(eid), {text(k): text(v) for k, v in (fields or {}).items()}) for eid, fields in raw
    ]


async def stream(
    redis: RedisClient, key: str, *, newest_first: bool = False, count: int | None = None
) -> list[Entry]:
    """The entries of stream ``key``, oldest first (or newest first), at most ``count``."""
    if newest_first:
        return entries(await redis.xrevrange(key, count=count))
    return entries(await redis.xrange(key, count=count))

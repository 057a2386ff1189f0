"""A batch of commands sent as one buffer, for the hot loops that send hundreds at a time.

A redis-py pipeline costs ~13 µs of Python per command: each argument packed
in Python (an ``isinstance`` chain and a bytes join per argument: ~23 µs for a
renewal's call of 20 arguments), a command stack, a response callback per
reply, and every reply read under an asyncio timer armed and cancelled.
``send_batch`` packs the whole batch with ``hiredis.pack_command`` (~3 µs a
call), sends it as one buffer on one connection and reads the replies as
Redis sent them; a reply already in the parser's buffer is read with no timer
(one that must be waited for still waits under the socket timeout). The
renew chore sends a page of script calls this way. The connections of that
client pack with hiredis too (``with_hiredis_packing``): its pipelines and
single commands save the same.

hiredis packs str, bytes and int byte for byte as redis-py does; a float (which
they write differently), a bool or None (refused by both), or a command name
with a space (``CONFIG GET``: redis-py splits it) goes through redis-py's packer.

Only the client ``open_redis`` builds for one node (``BatchingRedis``) does it:
any other client (a Redis Cluster, fakeredis, the simulator's gated client)
gets the same commands through a plain pipeline, with the same replies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

Command = Sequence[str | bytes | int]


class BatchingRedis(Redis):
    """The one-node client ``open_redis`` builds: a Redis client that can ``send_batch``."""

    async def send_batch(self, commands: Sequence[Command]) -> list[Any]:
        """``commands`` as one buffer on one connection; their replies in order, raw (no
        response callbacks), an error reply as its ResponseError."""
        pool: Any = self.connection_pool  # redis-py leaves get_connection untyped
        connection: AbstractConnection = await pool.get_connection()
        try:
            buffer = b"".join([packed(connection, command) for command in commands])
            await connection.send_packed_command(buffer, check_health=False)
            return [await _reply(connection) for _ in commands]
        except BaseException:
            # Cancelled or failed half-way: replies may be left unread on this connection.
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)


async def send_batch(redis: Redis | RedisCluster, commands: Sequence[Command]) -> list[Any]:
    """``BatchingRedis.send_batch``, or a plain pipeline for any other client (its replies
    through redis-py's callbacks: for commands whose replies they leave alone, such as
    FCALL, ZADD, EXISTS)."""
    if isinstance(redis, BatchingRedis):
        return await redis.send_batch(commands)
    async with redis.pipeline(transaction=False) as pipe:
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies


def packed(connection: AbstractConnection, command: Command) -> bytes:
    """``command`` in the wire format, as ``connection`` would pack it."""
    fast = hiredis_packed(command)
    return fast if fast is not None else b"".join(connection.pack_command(*command))


def hiredis_packed(command: Sequence[Any]) -> bytes | None:
    """``command`` packed by hiredis, or None where redis-py packs it otherwise."""
    name = command[0]
    if type(name) is not str or " " in name or float in map(type, command):
        return None
    try:
        args: Any = tuple(command)
        return bytes(hiredis.pack_command(args))
    except TypeError:  # a bool, None ...: redis-py's packer, and its error
        return None


_HIREDIS_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def with_hiredis_packing(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (TCP, TLS or Unix socket) packing every command it can with hiredis: each
    pipeline and single command of the client, not only ``send_batch``."""
    if base not in _HIREDIS_PACKING:

        class HiredisPacking(base):  # type: ignore[valid-type,misc]
            def pack_command(self, *args: Any) -> list[bytes]:
                fast = hiredis_packed(args)
                return [fast] if fast is not None else list(super().pack_command(*args))

        HiredisPacking.__name__ = f"HiredisPacking{base.__name__}"
        _HIREDIS_PACKING[base] = HiredisPacking
    return _HIREDIS_PACKING[base]


def _buffered(connection: AbstractConnection) -> bool:
    """The parser holds bytes of the next reply already (hiredis' reader)."""
    reader = getattr(connection._parser, "_reader", None)
    return isinstance(reader, hiredis.Reader) and bool(reader.has_data())


async def _reply(connection: AbstractConnection) -> Any:
    # redis-py's timeout: math.inf reads with no timer, None under the socket timeout.
    timeout = math.inf if _buffered(connection) else None
    try:
        return await connection.read_response(timeout=timeout)
    except ResponseError as error:  # read whole: the connection stays in step
        return error

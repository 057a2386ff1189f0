"""Lua scripts: one file each under ``lua/``, registered once, called by SHA."""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def load_script(redis: Redis, name: str) -> AsyncScript:
    text = resources.files("payments.store").joinpath("lua", f"{name}.lua").read_text("utf-8")
    return redis.register_script(text)


class Scripts:
    """Lazily registered scripts of one Redis client, by file name."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._loaded: dict[str, AsyncScript] = {}

    async def call(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run a script; with a pipeline as ``client``, queue it in that pipeline."""
        script = self._loaded.get(name)
        if script is None:
            script = self._loaded[name] = load_script(self._redis, name)
        return await script(keys=keys, args=args, client=client)

"""Lua scripts: one file each under ``lua/``, registered once, called by SHA.

A script may share helpers with others: a line ``--! include NAME`` is
replaced, when the script is loaded, by ``lua/lib/NAME.lua`` (the helpers
that take money with its ledger entry, that grant credits ...), so a rule
that several atomic steps apply is written once.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, Final

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

INCLUDE: Final = re.compile(r"^--! include (\w+)$", re.M)


def script_text(name: str) -> str:
    """The source of ``lua/NAME.lua`` with its includes expanded."""
    lua = resources.files("payments.store").joinpath("lua")
    text = lua.joinpath(f"{name}.lua").read_text("utf-8")
    return INCLUDE.sub(lambda m: lua.joinpath("lib", f"{m[1]}.lua").read_text("utf-8"), text)


def load_script(redis: Redis, name: str) -> AsyncScript:
    return redis.register_script(script_text(name))


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

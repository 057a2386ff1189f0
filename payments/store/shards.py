"""The shards of the global schedules and registries (``keys.shard``): which key a JID is in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from payments import keys


@dataclass(frozen=True)
class Shards:
    count: int = keys.DEFAULT_SHARDS

    def of(self, jid: str) -> int:
        return keys.shard_of(jid, self.count)

    def key(self, name: str, jid: str) -> str:
        """The shard of ``name`` that holds ``jid``."""
        return keys.shard(name, self.of(jid))

    def all(self, name: str) -> list[str]:
        return [keys.shard(name, number) for number in range(self.count)]

    def split(self, jids: Iterable[str]) -> dict[int, list[str]]:
        """The JIDs by shard (each once, in the order given)."""
        found: dict[int, list[str]] = {}
        for jid in dict.fromkeys(jids):
            found.setdefault(self.of(jid), []).append(jid)
        return found

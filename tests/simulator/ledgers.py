"""Every account's ledger (archive and stream), read once per oracle check.

The oracle runs between two steps, when nothing writes: each of its checks may ask
for the same account's entries, and a ledger read (a stream and, when months were
archived, their files) is most of what a check costs.
"""

from __future__ import annotations

from payments.ledger.records import LedgerEntry
from tests.simulator.world import World


class Ledgers:
    def __init__(self, w: World) -> None:
        self._w = w
        self._read: dict[str, list[LedgerEntry]] = {}

    async def of(self, jid: str) -> list[LedgerEntry]:
        if jid not in self._read:
            self._read[jid] = await self._w.store.ledger.all_entries(jid)
        return self._read[jid]

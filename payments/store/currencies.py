"""Which currency an account counts in: the ``currency`` field of its account hash.

Every amount kept for an account (balances, ledger entries, invoices, plan
snapshots, grants) is in that currency. Registration and a join write the
field; an account from before currencies per account has none and counts in
the default currency (the first of ``[billing] currencies``). A store turns
units into ``Money`` with the currency read here, in the same round trip as
the units where it can (``queue`` in a pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from payments import keys
from payments.store.connection import RedisClient

FIELD: Final = "currency"


class Currencies:
    def __init__(self, redis: RedisClient, default: str) -> None:
        self._redis = redis
        self.default = default

    def of_field(self, value: Any) -> str:
        """The currency a read of the field says (absent: the default)."""
        return str(value) if value else self.default

    def queue(self, pipe: Any, jid: str) -> None:
        """Read ``jid``'s currency in a pipeline; ``of_field`` its reply."""
        pipe.hget(keys.account(jid), FIELD)

    async def of(self, jid: str) -> str:
        return self.of_field(await self._redis.hget(keys.account(jid), FIELD))

    async def of_many(self, jids: Sequence[str]) -> list[str]:
        if not jids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for jid in jids:
                self.queue(pipe, jid)
            found = await pipe.execute()
        return [self.of_field(value) for value in found]

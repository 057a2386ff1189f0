"""Freeze records: ``payment-freezes-{JID}``, one field per kind, with who, when and why."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from payments import keys
from payments.accounts.records import FreezeKind, FreezeRecord
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts


class FreezeIf(StrEnum):
    """When ``freeze.lua`` may add a freeze (checked in the same atomic step)."""

    ANY = "any"
    OWING = "owing"  # an invoice is open
    TRIAL = "trial"  # the account is (still) a trial


class LiftIf(StrEnum):
    ANY = "any"
    PAID = "paid"  # nothing owed and not a trial
    WITH_MAIN = "with_main"  # a leaf's freeze set with its main (not an operator's of its own)


class Frozen(StrEnum):
    ADDED = "added"
    ALREADY = "already"
    NO_ACCOUNT = "no_account"  # absent or closed
    NOT_NOW = "not_now"  # the condition did not hold


_FROZEN = {1: Frozen.ADDED, 0: Frozen.ALREADY, -1: Frozen.NO_ACCOUNT, -2: Frozen.NOT_NOW}


class FreezeStore:
    def __init__(self, redis: RedisClient, scripts: Scripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def freeze(
        self, jid: str, record: FreezeRecord, when: FreezeIf, guard: str = ""
    ) -> Frozen:
        """Add ``record`` if ``when`` holds at commit; ``guard`` is the account's
        ``unpaid_since`` (OWING) or ``trial_ends_at`` (TRIAL) as the caller read it."""
        args = [record.kind.value, record.encode(), when.value, guard]
        status = await self._scripts.call("freeze", self._keys(jid), args)
        return _FROZEN[int(status)]

    async def lift(
        self, jid: str, kind: FreezeKind, when: LiftIf, main: str = ""
    ) -> FreezeRecord | None:
        """Remove one freeze; the record lifted, or None (absent, or the condition failed).
        ``main`` goes with WITH_MAIN: the main the leaf was frozen with."""
        args = [kind.value, when.value, main]
        text = await self._scripts.call("unfreeze", self._keys(jid), args)
        return FreezeRecord.decode(kind.value, text) if text else None

    async def records(self, jid: str) -> dict[FreezeKind, FreezeRecord]:
        raw: Any = await self._redis.hgetall(keys.freezes(jid))
        return {FreezeKind(k): FreezeRecord.decode(k, v) for k, v in raw.items()}

    async def record(self, jid: str, kind: FreezeKind) -> FreezeRecord | None:
        text: Any = await self._redis.hget(keys.freezes(jid), kind.value)
        return FreezeRecord.decode(kind.value, text) if text else None

    def _keys(self, jid: str) -> list[str]:
        return [keys.freezes(jid), keys.account(jid), keys.invoices_open(jid)]

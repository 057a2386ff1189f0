"""Voucher codes and batches; failed code attempts per sender.

Voucher keys are global: each script touches one key. Redeeming is claim
(here) then credit (the ledger), see ``payments.topup.vouchers``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from payments import keys
from payments.clock import epoch
from payments.errors import PaymentsError
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts
from payments.topup.vouchers import Claim, VoucherBatch

# An expired code is kept a year for questions, then Redis drops it.
KEEP_AFTER_EXPIRY: Final = timedelta(days=365)


class BatchExists(PaymentsError):
    pass


class VoucherStore:
    def __init__(self, redis: RedisClient, scripts: Scripts, currency: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self.currency = currency

    async def create_batch(self, batch: VoucherBatch, draw: Callable[[], str]) -> list[str]:
        """Record the batch (its name once, ever), then write ``batch.count`` fresh codes."""
        key = keys.voucher_batch(batch.name)
        if not await self._redis.hsetnx(key, "created_at", batch.created_at.isoformat()):
            raise BatchExists(f"a voucher batch named {batch.name!r} exists already")
        expires = batch.expires_at.isoformat() if batch.expires_at else ""
        await self._redis.hset(
            key,
            mapping={
                "amount": str(batch.amount.units),
                "currency": batch.amount.currency,
                "count": str(batch.count),
                "created_by": batch.created_by,
                "expires_at": expires,
            },
        )
        args = _code_args(batch)
        codes: list[str] = []
        while len(codes) < batch.count:
            code = draw()
            if await self._scripts.call("voucher_create", [keys.voucher(code)], args):
                codes.append(code)
        return codes

    async def claim(
        self, code: str, jid: str, now: datetime, *, currency: str, any_currency: bool
    ) -> tuple[Claim, Money | None, str]:
        """Mark ``code`` used by ``jid`` (once), if it is in ``currency`` (the JID's) or
        ``any_currency`` (its first money); the amount is None when refused (for OTHER_CURRENCY
        the amount is zero in the code's currency)."""
        args = [jid, now.isoformat(), epoch(now), currency, "1" if any_currency else "0"]
        status, units, batch, code_currency = await self._scripts.call(
            "voucher_claim", [keys.voucher(code)], [*args, self.currency]
        )
        claim = Claim(int(status))
        if claim is Claim.OTHER_CURRENCY:
            return claim, Money.zero(str(code_currency)), ""
        amount = Money(int(units), str(code_currency)) if claim >= 0 else None
        return claim, amount, str(batch)

    async def get(self, code: str) -> dict[str, str]:
        fields: Any = await self._redis.hgetall(keys.voucher(code))
        return dict(fields)


def _code_args(batch: VoucherBatch) -> list[str | int]:
    expires, expires_ts, drop_at = "", "", ""
    if batch.expires_at is not None:
        expires = batch.expires_at.isoformat()
        expires_ts = str(epoch(batch.expires_at))
        drop_at = str(epoch(batch.expires_at + KEEP_AFTER_EXPIRY))
    created = batch.created_at.isoformat()
    return [
        batch.amount.units, batch.name, created, expires, expires_ts, drop_at,
        batch.amount.currency,
    ]  # fmt: skip

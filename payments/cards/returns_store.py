"""Card money that goes back: the card payments of an account, refunds, disputes.

Each change is one Lua script over one account's keys that moves the prepaid
balance with its ledger entry and updates the payment's figures in the same
step (``card_refund.lua``, ``card_refund_undo.lua``, ``card_refunded.lua``,
``card_dispute.lua``, ``card_dispute_closed.lua``), once per ref.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from payments import keys
from payments.cards.records import CardPayment, Dispute, DisputeStatus
from payments.clock import epoch
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.currencies import Currencies
from payments.store.scripts import Scripts


class Refunded(IntEnum):
    DONE = 1
    BEFORE = 0  # this ref was refunded before: its plan is returned
    NOT_UNSPENT = -1  # the prepaid balance does not hold that much
    NOT_REFUNDABLE = -2  # a payment has less left than planned (refunded or disputed meanwhile)


@dataclass(frozen=True, slots=True)
class RefundApplied:
    status: Refunded
    plan: tuple[tuple[str, Money], ...] = ()  # (payment intent, part)
    short: Money | None = None  # NOT_UNSPENT: the prepaid balance; NOT_REFUNDABLE: what is left


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    """``card_refunded.lua``: a refund the provider reported, as recorded."""

    known: bool  # False: not a card payment of ours
    taken: Money  # from the prepaid balance now
    not_taken: Money  # already spent: the operators are told


class CardReturnsStore:
    """Amounts are in each account's currency (``Currencies``)."""

    def __init__(self, redis: RedisClient, scripts: Scripts, currencies: Currencies) -> None:
        self._redis = redis
        self._scripts = scripts
        self._currencies = currencies

    async def record_payment(self, jid: str, payment: CardPayment) -> None:
        """A card payment credited outside ``card_credit.lua`` (a Checkout top-up): kept once."""
        await self._redis.hsetnx(keys.card_payments(jid), payment.payment_intent, payment.encode())

    async def payments(self, jid: str) -> list[CardPayment]:
        """Every card payment of the account, newest first."""
        raw: Any = await self._redis.hgetall(keys.card_payments(jid))
        currency = await self._currencies.of(jid)
        found = [CardPayment.decode(pi, text, currency) for pi, text in raw.items()]
        return sorted(found, key=lambda p: (p.at, p.payment_intent), reverse=True)

    async def refund(
        self,
        jid: str,
        key: str,
        plan: Sequence[tuple[str, Money]],
        *,
        reason: str,
        at: datetime,
        actor: str,
    ) -> RefundApplied:
        currency = await self._currencies.of(jid)
        total = sum((part for _, part in plan), Money.zero(currency))
        written = ",".join(f"{pi}:{part.units}" for pi, part in plan)
        args = [key, total.units, reason, at.isoformat(), actor, written]
        args += [x for pi, part in plan for x in (pi, part.units)]
        reply = await self._scripts.call("card_refund", self._refund_keys(jid), args)
        status = Refunded(int(reply[0]))
        if status is Refunded.NOT_UNSPENT:
            return RefundApplied(status, short=Money(int(reply[1]), currency))
        if status is Refunded.NOT_REFUNDABLE:
            return RefundApplied(status, ((str(reply[1]), Money(int(reply[2]), currency)),))
        return RefundApplied(status, self._plan(str(reply[1]), currency))

    async def planned(self, jid: str, key: str) -> tuple[tuple[str, Money], ...] | None:
        """The plan of a refund made before under ``key`` (None: not made)."""
        text: Any = await self._redis.hget(keys.card_refunds(jid), key)
        return None if text is None else self._plan(str(text), await self._currencies.of(jid))

    async def made(self, jid: str, key: str, payment_intent: str) -> str:
        """The provider's id of the part of refund ``key`` made on that payment ('' not yet)."""
        found: Any = await self._redis.hget(keys.card_refunds(jid), f"{key}|{payment_intent}")
        return str(found or "")

    async def note_made(self, jid: str, key: str, payment_intent: str, refund_id: str) -> None:
        await self._redis.hset(keys.card_refunds(jid), f"{key}|{payment_intent}", refund_id)

    def _plan(self, text: str, currency: str) -> tuple[tuple[str, Money], ...]:
        parts = (item.rpartition(":") for item in text.split(",") if item)
        return tuple((pi, Money(int(units), currency)) for pi, _, units in parts)

    async def undo_refund(
        self, jid: str, key: str, payment_intent: str, part: Money, *, reason: str, at: datetime,
        actor: str,
    ) -> bool:  # fmt: skip
        args = [key, payment_intent, part.units, reason, at.isoformat(), actor]
        return bool(await self._scripts.call("card_refund_undo", self._refund_keys(jid)[:4], args))

    async def provider_refunded(
        self, jid: str, payment_intent: str, total: Money, *, reason: str, at: datetime, actor: str
    ) -> ProviderRefund:
        args = [payment_intent, total.units, reason, at.isoformat(), actor]
        status, taken, left = await self._scripts.call(
            "card_refunded", self._refund_keys(jid)[:4], args
        )
        taken_back, not_taken = Money(int(taken), total.currency), Money(int(left), total.currency)
        return ProviderRefund(int(status) >= 0, taken_back, not_taken)

    def _refund_keys(self, jid: str) -> list[str]:
        return [
            keys.balance_prepaid(jid),
            keys.transactions(jid),
            keys.idempotency(jid),
            keys.card_payments(jid),
            keys.card_refunds(jid),
        ]

    async def open_dispute(
        self, jid: str, dispute: Dispute, *, reason: str, freeze: str, actor: str
    ) -> tuple[bool, Money]:
        """Take the disputed amount and freeze (``card_dispute.lua``): (done now, prepaid)."""
        script_keys = [
            *self._refund_keys(jid)[:4],
            keys.card_disputes(jid),
            keys.freezes(jid),
            keys.account(jid),
        ]
        args = [
            dispute.id, dispute.payment_intent, dispute.amount.units, reason,
            dispute.at.isoformat(), actor, freeze, epoch(dispute.at),
        ]  # fmt: skip
        done, prepaid = await self._scripts.call("card_dispute", script_keys, args)
        return bool(done), Money(int(prepaid), dispute.amount.currency)

    async def close_dispute(
        self, jid: str, dispute_id: str, won: bool, *, reason: str, at: datetime, actor: str
    ) -> tuple[int, str]:
        """(1 closed now, 0 before, -1 never opened; the status)."""
        script_keys = [*self._refund_keys(jid)[:4], keys.card_disputes(jid)]
        args = [dispute_id, "1" if won else "0", reason, at.isoformat(), actor]
        done, status = await self._scripts.call("card_dispute_closed", script_keys, args)
        return int(done), str(status)

    async def disputes(self, jid: str) -> list[Dispute]:
        raw: Any = await self._redis.hgetall(keys.card_disputes(jid))
        currency = await self._currencies.of(jid)
        found = [Dispute.decode(d, text, currency) for d, text in raw.items()]
        return sorted(found, key=lambda d: d.at, reverse=True)

    async def open_disputes(self, jid: str) -> list[Dispute]:
        return [d for d in await self.disputes(jid) if d.status is DisputeStatus.OPEN]

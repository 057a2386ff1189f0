"""One off-session card charge: recorded, sent, then credited once (or its decline noted).

The charge is recorded in Redis before it is sent (one in flight per
account) and sent with its idempotency key; the provider is never called
while a Redis transaction is open. Its success is credited by
``card_credit.lua`` once per payment, whichever arrives first: the
synchronous answer, the provider's webhook, or a resumption of a charge a
crash left in flight (sent again with the same key, the provider answers
the same; after a day, when the provider forgot the key, it is looked up
among the customer's payments instead).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from payments.billing.payment import after_credit
from payments.cards import texts
from payments.cards.desk import Desk
from payments.cards.records import ChargeRequest, InFlight, Purpose
from payments.cards.store import Begun, Credited
from payments.ledger.records import Applied
from payments.stores import Store
from payments.topup.providers.base import ProviderError
from payments.topup.providers.cards import (
    ChargeOutcome,
    ChargeStatus,
    ChargeSucceeded,
    OffSessionCharge,
)

log = logging.getLogger("accountbot.cards")

STALE: Final = timedelta(minutes=2)  # a charge in flight longer than this lost its sender
KEY_LIFETIME: Final = timedelta(hours=23)  # Stripe keeps idempotency keys 24 hours


class Charged(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    ACTION_REQUIRED = "action_required"  # SCA: the holder must confirm
    BUSY = "busy"  # another charge of the account is in flight: later
    UNKNOWN = "unknown"  # no answer from the provider: resumed later with the same key


@dataclass(frozen=True, slots=True)
class ChargeResult:
    status: Charged
    outcome: ChargeOutcome | None = None
    declines: int = 0  # an automatic top-up's declines in a row
    ended: bool = False  # this call ended the charge (False: another answer had)

    @property
    def failed(self) -> bool:
        return self.status in (Charged.DECLINED, Charged.ACTION_REQUIRED)


def in_flight_of(request: ChargeRequest, at: datetime) -> InFlight:
    return InFlight(
        request.key, request.purpose, request.amount, request.card.id, request.reason,
        request.period, at,
    )  # fmt: skip


async def charge(desk: Desk, jid: str, request: ChargeRequest, now: datetime) -> ChargeResult:
    """Record, send, finish: the whole of one charge."""
    begun = await desk.store.cards.begin_charge(jid, request, now)
    if begun is Begun.BUSY:
        return ChargeResult(Charged.BUSY)
    return await send(desk, jid, in_flight_of(request, now), now)


async def send(desk: Desk, jid: str, charge: InFlight, now: datetime) -> ChargeResult:
    customer = (await desk.store.cards.profile(jid)).customer
    request = OffSessionCharge(
        jid, customer, charge.card, charge.amount, charge.key, charge.purpose.value, charge.reason
    )
    try:
        outcome = await desk.provider.charge(request)
    except ProviderError as exc:
        log.warning("card charge %s of %s: no answer: %s", charge.key, jid, exc)
        return ChargeResult(Charged.UNKNOWN)
    return await finish(desk, jid, charge, outcome, now)


async def finish(
    desk: Desk, jid: str, charge: InFlight, outcome: ChargeOutcome, now: datetime
) -> ChargeResult:
    if outcome.status is ChargeStatus.SUCCEEDED:
        paid = Credited(
            charge.amount, charge.reason, f"{desk.provider.name}:{outcome.payment_intent}",
            charge.key, charge.card, outcome.payment_intent, charge.purpose,
        )  # fmt: skip
        await credit(desk, jid, paid, charge.period, now)
        return ChargeResult(Charged.SUCCEEDED, outcome, ended=True)
    ended, declines = await desk.store.cards.fail(jid, charge, outcome.code, at=now)
    status = (
        Charged.ACTION_REQUIRED
        if outcome.status is ChargeStatus.ACTION_REQUIRED
        else Charged.DECLINED
    )
    return ChargeResult(status, outcome, declines, ended)


async def credit(desk: Desk, jid: str, paid: Credited, period: str, now: datetime) -> Applied:
    """Credit a successful charge once, then what follows any credit (settle, unfreeze ...),
    then tell the user (once per payment)."""
    store = desk.store
    await store.cards.note_owner(paid.payment_intent, jid)  # first: a dispute finds the account
    applied = await store.cards.credit(jid, paid, at=now, actor=desk.paid_by)
    await after_credit(desk.cycle(), jid, now)
    label = await card_label(store, jid, paid.card)
    if paid.purpose is Purpose.INVOICE and period:
        notice = texts.invoice_paid_by_card(jid, label, paid.amount, period, paid.payment_intent)
    else:
        total = (await store.ledger.balances(jid)).total
        notice = texts.topped_up(jid, label, paid.amount, total, paid.payment_intent)
    await store.outbox.notify(notice)
    return applied


async def credit_reported(desk: Desk, event: ChargeSucceeded, now: datetime) -> Applied:
    """The provider's webhook for one of our charges: credited once, like the answer."""
    charge = await desk.store.cards.in_flight(event.jid)
    if charge is not None and charge.key != event.key:
        charge = None  # another charge is in flight: this one was answered already
    paid = Credited(
        event.amount,
        charge.reason if charge else "card payment",
        f"{desk.provider.name}:{event.payment_intent}",
        event.key,
        event.payment_method,
        event.payment_intent,
        charge.purpose if charge else Purpose(event.purpose),
    )
    return await credit(desk, event.jid, paid, charge.period if charge else "", now)


async def resume(desk: Desk, jid: str, now: datetime) -> ChargeResult | None:
    """Finish a charge a crash (or a lost answer) left in flight; None when there is none
    or its sender may still be on it."""
    charge = await desk.store.cards.in_flight(jid)
    if charge is None or now - charge.started < STALE:
        return None
    if now - charge.started < KEY_LIFETIME:
        return await send(desk, jid, charge, now)
    customer = (await desk.store.cards.profile(jid)).customer
    try:
        outcome = await desk.provider.find_charge(customer, charge.key)
    except ProviderError as exc:
        log.warning("card charge %s of %s: lookup failed: %s", charge.key, jid, exc)
        return ChargeResult(Charged.UNKNOWN)
    if outcome is None:  # the provider never made it
        await desk.store.cards.abandon(jid, charge.key)
        return ChargeResult(Charged.DECLINED)
    return await finish(desk, jid, charge, outcome, now)


async def card_label(store: Store, jid: str, card_id: str) -> str:
    return next((c.label for c in await store.cards.cards(jid) if c.id == card_id), "card")


def short(result: ChargeResult) -> str:
    """The decline code of a failed charge."""
    return result.outcome.code if result.outcome is not None else "unknown"

"""Helpers of the saved-card tests: cards, card payments, accounts."""

from __future__ import annotations

from datetime import datetime

from payments.cards.records import Card, Purpose
from payments.cards.store import Credited
from payments.stores import Store
from tests.support.billing import T0, usd

A = "alice@example.org"


def card(card_id: str, last4: str, *, brand: str = "visa", year: int = 2034) -> Card:
    """A saved card; the same last 4 digits, the same fingerprint (the same number)."""
    return Card(card_id, brand, last4, 12, year, f"fp-{last4}", T0)


async def registered(store: Store, jid: str, at: datetime = T0) -> None:
    await store.accounts.register_trial(jid, at, 30)


async def payment_of(
    store: Store, jid: str, payment_intent: str, amount: str, at: datetime
) -> None:
    """A card payment credited to ``jid`` (as a successful charge is)."""
    paid = Credited(
        usd(amount), "card payment", f"stripe:{payment_intent}", f"key-{payment_intent}", "",
        payment_intent, Purpose.INVOICE,
    )  # fmt: skip
    await store.cards.credit(jid, paid, at=at, actor="provider:stripe")

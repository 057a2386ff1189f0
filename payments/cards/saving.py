"""Saving cards: the account's customer at the provider, the page to add a card, the card
saved when the provider reports it (once per card number), the default, removal.

A card just saved pays what the account owes at once (open invoices, and so
a billing freeze lifted), before the default card.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments.accounts.records import AccountKind
from payments.billing.cycle import Cycle
from payments.billing.renewal import charge_lines
from payments.billing.rules import total_of
from payments.cards import texts
from payments.cards.desk import Desk
from payments.cards.invoices import CardPaid, InvoiceAttempt, pay_by_card, tell_failure
from payments.cards.records import Card
from payments.cards.rules import CardKept, match_card
from payments.cards.store import Added, Removed
from payments.config import Config
from payments.money import Money, format_money
from payments.stores import Store
from payments.topup.providers.base import Checkout
from payments.topup.providers.cards import CardDetails, CardSetUp, SetupRequest


async def customer_of(desk: Desk, jid: str) -> str:
    """The account's customer at the provider, created the first time it is needed."""
    profile = await desk.store.cards.profile(jid)
    if profile.customer:
        return profile.customer
    created = await desk.provider.create_customer(jid)
    return await desk.store.cards.keep_customer(jid, created)


async def setup_page(desk: Desk, jid: str, return_url: str, cancel_url: str) -> Checkout:
    """The provider's page where the user saves a card."""
    customer = await customer_of(desk, jid)
    key = f"setup-{secrets.token_hex(12)}"
    return await desk.provider.start_setup(SetupRequest(jid, customer, return_url, cancel_url, key))


class Saved(StrEnum):
    ADDED = "added"
    ALREADY = "already"  # this very card was saved before (a replay)
    DUPLICATE = "duplicate"  # the same card number, saved under another id: not added twice
    NOT_OURS = "not_ours"  # another customer's, or no account: refused


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    saved: Saved
    card: Card | None = None
    paid: InvoiceAttempt | None = None  # what it paid at once


async def save_card(desk: Desk, event: CardSetUp, now: datetime) -> SaveOutcome:
    """A card the provider saved for an account: kept once, then it pays what is owed."""
    store, jid = desk.store, event.jid
    account = await store.accounts.get(jid)
    customer = (await store.cards.profile(jid)).customer
    if account is None or customer not in ("", event.customer):
        return SaveOutcome(Saved.NOT_OURS)
    details = await desk.provider.card(await _method(desk, event))
    if details.customer not in ("", event.customer):
        return SaveOutcome(Saved.NOT_OURS)
    card = card_of(details, now)
    added, _ = await store.cards.add(jid, card, event.customer)
    if added is Added.DUPLICATE:
        await desk.provider.detach(card.id)  # the copy is not kept at the provider either
        await store.outbox.notify(texts.card_already_saved(jid, card.label, card.id))
        return SaveOutcome(Saved.DUPLICATE, card)
    if added is Added.ADDED:
        expiring = card.expiring(now, desk.config.cards.expiry_warning_days)
        await store.outbox.notify(texts.card_saved(jid, card, expiring))
    paid = await pay_by_card(desk, jid, now, attempt=f"add-{card.id}", first=card.id)
    if paid.result in (CardPaid.FAILED, CardPaid.NO_CARD):
        await tell_failure(desk, jid, paid, None, f"add-{card.id}", now)
    return SaveOutcome(Saved.ADDED if added is Added.ADDED else Saved.ALREADY, card, paid)


async def _method(desk: Desk, event: CardSetUp) -> str:
    if event.payment_method:
        return event.payment_method
    if event.setup_intent:
        return await desk.provider.setup_method(event.setup_intent)
    return await desk.provider.payment_method_of(event.payment_intent)


def card_of(details: CardDetails, now: datetime) -> Card:
    return Card(
        details.id, details.brand, details.last4, details.exp_month, details.exp_year,
        details.fingerprint, now,
    )  # fmt: skip


async def make_default(store: Store, jid: str, last4: str) -> Card:
    card = match_card(await store.cards.cards(jid), last4)
    await store.cards.set_default(jid, card.id)
    return card


async def remove_card(store: Store, config: Config, jid: str, last4: str, now: datetime) -> str:
    """Forget a card (the reply). The last card stays while the balances do not cover the
    next renewal: then the renewal would have nothing to be paid with."""
    card = match_card(await store.cards.cards(jid), last4)
    needed, covered = await renewal_cover(store, config, jid)
    removed, default = await store.cards.remove(jid, card.id, may_be_last=covered >= needed)
    if removed is Removed.KEPT:
        raise CardKept(
            f"{card.label} is your only card and your balances ({format_money(covered)}) do not "
            f"cover your next renewal ({format_money(needed)}): add another card or top up first"
        )
    if removed is Removed.UNKNOWN:
        return f"{card.label} was removed already."
    after = next((c.label for c in await store.cards.cards(jid) if c.id == default), "")
    return f"{card.label} removed." + (f" Your default card is {after}." if after else "")


async def renewal_cover(store: Store, config: Config, jid: str) -> tuple[Money, Money]:
    """(what the next renewal charges, what the voucher and prepaid balances hold)."""
    balances = await store.ledger.balances(jid)
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.kind is not AccountKind.PAID or sub.account.closed:
        return Money.zero(balances.total.currency), balances.total
    lines = await charge_lines(Cycle(store, config.billing), sub)
    return total_of(lines, balances.total.currency), balances.total

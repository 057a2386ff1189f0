"""Open invoices paid by card: the balances first, then the default card, then the others.

Each open invoice (smallest first, as settlements go) that the voucher and
prepaid balances cannot cover is charged what they lack (in whole cents, at
least the provider's minimum) on one card after another until one pays; the
charge is credited to prepaid and the invoice settled from the balances as
any credit settles it, so a renewal paid partly by a voucher and partly by a
card has a ledger entry for each part. The idempotency key of a charge names
the invoice, the attempt and the card: a retry after a crash charges nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from payments.accounts.records import FreezeKind
from payments.billing.payment import pay_invoices
from payments.billing.rules import grace_ends
from payments.cards import texts
from payments.cards.charging import Charged, ChargeResult, charge, short
from payments.cards.desk import Desk
from payments.cards.records import Card, ChargeRequest, Purpose
from payments.cards.rules import charge_amount, charge_key, ordered, usable
from payments.clock import epoch, month_label
from payments.config import Config
from payments.money import Money
from payments.topup.providers.amounts import payable_ceiling
from payments.web.links import TopupLink, sign_link

CONFIRM_DAYS = 7  # an SCA link works this long when the account has no grace end


class CardPaid(StrEnum):
    PAID = "paid"  # nothing is owed any more
    NOTHING_OWED = "nothing_owed"
    NO_CARD = "no_card"  # owes, holds no usable card
    FAILED = "failed"  # every card failed on an invoice
    LATER = "later"  # a charge is in flight, or the provider did not answer: look again soon
    HELD = "held"  # a disputed account: its cards are not charged until an operator looks


@dataclass(frozen=True, slots=True)
class InvoiceAttempt:
    result: CardPaid
    period: str = ""  # the invoice it stopped at
    due: Money | None = None
    failures: tuple[tuple[Card, ChargeResult], ...] = field(default_factory=tuple)


async def pay_by_card(
    desk: Desk, jid: str, now: datetime, *, attempt: str, first: str = ""
) -> InvoiceAttempt:
    """Pay what the account owes: balances first, then its cards (``first``: a card just
    added, tried before the default). ``attempt`` names this try in the charges' keys."""
    store = desk.store
    await pay_invoices(desk.cycle(), jid, now)
    if not await store.billing.open_invoices(jid):
        return InvoiceAttempt(CardPaid.NOTHING_OWED)
    account = await store.accounts.get(jid)
    if account is None or account.closed or FreezeKind.DISPUTE in account.freezes:
        return InvoiceAttempt(CardPaid.HELD)
    profile = await store.cards.profile(jid)
    cards = ordered(usable(await store.cards.cards(jid), now), profile.default, first)
    while opened := await store.billing.open_invoices(jid):
        period, due = opened[0]
        if not cards:
            return InvoiceAttempt(CardPaid.NO_CARD, period, due)
        outcome = await _pay_one(desk, jid, period, cards, attempt, now)
        if outcome.result is not CardPaid.PAID:
            return outcome
    return InvoiceAttempt(CardPaid.PAID)


async def _pay_one(
    desk: Desk, jid: str, period: str, cards: list[Card], attempt: str, now: datetime
) -> InvoiceAttempt:
    failures: list[tuple[Card, ChargeResult]] = []
    for card in cards:
        missing = await _missing(desk, jid, period, now)
        if missing is None:
            return InvoiceAttempt(CardPaid.PAID)
        amount = charge_amount(missing, desk.config.cards.in_currency(missing.currency).min_charge)
        reason = f"card {card.label}: invoice {month_label(period)}"
        key = charge_key(jid, period, attempt, card.id)
        request = ChargeRequest(key, Purpose.INVOICE, amount, card, reason, period)
        result = await charge(desk, jid, request, now)
        if result.status is Charged.SUCCEEDED:
            return InvoiceAttempt(CardPaid.PAID)
        if not result.failed:
            return InvoiceAttempt(CardPaid.LATER, period)
        failures.append((card, result))
    due = await _missing(desk, jid, period, now)
    if due is None:  # paid meanwhile (a top-up landed)
        return InvoiceAttempt(CardPaid.PAID)
    return InvoiceAttempt(CardPaid.FAILED, period, due, tuple(failures))


async def _missing(desk: Desk, jid: str, period: str, now: datetime) -> Money | None:
    """What the balances lack to pay the invoice of ``period`` (None: it is paid now)."""
    invoice = await desk.store.billing.invoice(jid, period)
    if invoice is None or not invoice.due.units:
        return None
    # A credit fills a negative prepaid balance (a dispute) first: count it as it stands.
    have = (await desk.store.ledger.balances(jid)).total
    if have < invoice.due:
        return invoice.due - have
    await pay_invoices(desk.cycle(), jid, now)  # a top-up landed meanwhile: settle instead
    return None


async def tell_failure(
    desk: Desk,
    jid: str,
    attempt: InvoiceAttempt,
    next_try: datetime | None,
    label: str,
    now: datetime,
) -> None:
    """One notice: which card failed and why, a link when the bank wants the holder, the
    next try and the end of the grace."""
    if attempt.due is None:
        return
    key = f"card_declined:{jid}:{attempt.period}:{label}"
    if attempt.result is CardPaid.NO_CARD:
        await desk.store.outbox.notify(texts.no_usable_card(jid, attempt.period, attempt.due, key))
        return
    sub = await desk.store.billing.subscriber(jid)
    since = sub.state.unpaid_since if sub is not None else None
    grace = grace_ends(since, desk.config.billing) if since is not None else None
    asked = any(r.status is Charged.ACTION_REQUIRED for _, r in attempt.failures)
    until = max(grace or now, now + timedelta(days=CONFIRM_DAYS))
    link = confirm_link(desk.config, jid, attempt.due, until) if asked else ""
    failures = [(card.label, short(result)) for card, result in attempt.failures]
    notice = texts.invoice_declined(
        jid, attempt.period, attempt.due, failures, next_try, grace, key, link
    )
    await desk.store.outbox.notify(notice)


def confirm_link(config: Config, jid: str, amount: Money, until: datetime) -> str:
    """The link an SCA decline sends: the top-up page with what is owed preset (paid at the
    provider with the holder present, who confirms with the bank there), valid ``until``."""
    link = TopupLink(jid, epoch(until), payable_ceiling(amount).units)
    token = sign_link(config.web.link_secret.reveal(), link)
    return f"{config.web.public_url.rstrip('/')}/topup/{token}"

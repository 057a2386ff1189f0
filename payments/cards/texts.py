"""What saved cards tell people: notices (queued once per key) and the bot's lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from payments.cards.records import Card
from payments.clock import day_label, month_label
from payments.money import Money, format_money
from payments.notices import Notice, NoticeKind

REASONS = {
    "insufficient_funds": "insufficient funds",
    "generic_decline": "declined by the bank",
    "card_declined": "declined by the bank",
    "do_not_honor": "declined by the bank",
    "expired_card": "the card has expired",
    "authentication_required": "your bank asks you to confirm the payment",
    "lost_card": "the card was reported lost",
    "stolen_card": "the card was reported stolen",
}


def _m(amount: Money) -> str:
    return format_money(amount)


def why(code: str) -> str:
    """A provider's decline code as people read it."""
    return REASONS.get(code, code.replace("_", " ") or "declined")


def card_line(card: Card, default: str, now: datetime, warning_days: int) -> str:
    """``visa …4242, expires 12/30 (default)``, flagged when it expires soon."""
    line = f"{card.label}, expires {card.expiry}"
    if card.id == default:
        line += " (default)"
    if card.expired(now):
        line += ": expired"
    elif card.expiring(now, warning_days):
        line += ": expires soon, add another card"
    if card.last_failure:
        line += f"; last charge failed: {why(card.last_failure)}"
    return line


def card_saved(jid: str, card: Card, expiring: bool) -> Notice:
    soon = " It expires soon: add another card before then." if expiring else ""
    return Notice(
        jid,
        NoticeKind.CARD_SAVED,
        f"Card {card.label} (expires {card.expiry}) saved: it pays your renewals when your "
        f"balance does not.{soon} Send 'cards' to see your cards.",
        f"card_saved:{jid}:{card.id}",
    )


def card_already_saved(jid: str, label: str, card_id: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CARD_SAVED,
        f"That card ({label}) is saved already: nothing changed.",
        f"card_saved_twice:{jid}:{card_id}",
    )


def invoice_paid_by_card(jid: str, label: str, amount: Money, period: str, pi: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CARD_PAYMENT,
        f"Card {label} was charged {_m(amount)} for your invoice {month_label(period)}.",
        f"card_paid:{pi}",
    )


def topped_up(jid: str, label: str, amount: Money, balance: Money, pi: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CARD_PAYMENT,
        f"Automatic top-up: card {label} was charged {_m(amount)}. Balance: {_m(balance)}.",
        f"card_paid:{pi}",
    )


def invoice_declined(
    jid: str,
    period: str,
    due: Money,
    failures: Sequence[tuple[str, str]],
    next_try: datetime | None,
    grace_until: datetime | None,
    key: str,
    link: str = "",
) -> Notice:
    """Every card failed on an invoice: which and why in one line, what happens next."""
    tried = "; ".join(f"{label}: {why(code)}" for label, code in failures)
    text = f"Your invoice {month_label(period)} ({_m(due)}) could not be paid by card ({tried})."
    if link:
        text += f" To confirm the payment with your bank, pay here: {link}"
    if next_try is not None:
        text += f" Next try on {day_label(next_try)}."
    if grace_until is not None:
        text += f" Pay by {day_label(grace_until)} or the account is frozen:"
        text += " send 'topup', or add a card with 'cards'."
    return Notice(jid, NoticeKind.CARD_DECLINED, text, key, url=link)


def no_usable_card(jid: str, period: str, due: Money, key: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CARD_DECLINED,
        f"Your invoice {month_label(period)} ({_m(due)}) could not be paid: your saved cards "
        "have expired. Add a card with 'cards', or send 'topup'.",
        key,
    )


def autotopup_declined(jid: str, label: str, code: str, key: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CARD_DECLINED,
        f"Automatic top-up failed: card {label}, {why(code)}. It is tried again later "
        "while your balance is low.",
        f"autotopup_declined:{key}",
    )


def autotopup_off(jid: str, declines: int, key: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.AUTOTOPUP_OFF,
        f"Automatic top-up is now off: your card was declined {declines} times in a row. "
        "Add a card with 'cards', then turn it on again with 'autotopup AMOUNT below THRESHOLD'.",
        f"autotopup_off:{key}",
    )


def autotopup_no_card(jid: str, key: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.AUTOTOPUP_OFF,
        "Automatic top-up is now off: no saved card can pay it (expired or removed). "
        "Add a card with 'cards', then turn it on again.",
        f"autotopup_off:{key}",
    )


def refunded(jid: str, amount: Money, balance: Money, key: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CARD_REFUND,
        f"{_m(amount)} was refunded to your card. Balance: {_m(balance)}.",
        f"refund:{jid}:{key}",
    )


def dispute_opened(jid: str, amount: Money, balance: Money, dispute: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.DISPUTE,
        f"A card payment of {_m(amount)} was disputed with your bank: it was taken back "
        f"(balance {_m(balance)}) and your account is frozen until an operator has looked "
        "at it. Please contact support.",
        f"dispute:{dispute}",
    )


def dispute_closed(jid: str, amount: Money, won: bool, dispute: str) -> Notice:
    outcome = (
        f"it was decided for us: {_m(amount)} is back on your balance"
        if won
        else f"it was decided for the card holder: the {_m(amount)} stays taken back"
    )
    return Notice(
        jid,
        NoticeKind.DISPUTE,
        f"The dispute of your card payment is closed: {outcome}.",
        f"dispute_closed:{dispute}",
    )


def operators_told(operator: str, text: str, key: str) -> Notice:
    return Notice(operator, NoticeKind.DISPUTE, text, f"{key}:{operator}")


def dispute_for_operators(jid: str, amount: Money, dispute: str, reason: str) -> str:
    return (
        f"Dispute {dispute}: a card payment of {_m(amount)} by {jid} is disputed"
        f"{' (' + reason.replace('_', ' ') + ')' if reason else ''}. The amount was taken "
        f"back and {jid} has a 'dispute' freeze: lift it with "
        f"'accountbot admin unfreeze {jid} --kind dispute' once settled."
    )


def dispute_closed_for_operators(jid: str, amount: Money, won: bool, dispute: str) -> str:
    outcome = f"won: {_m(amount)} given back" if won else f"lost: {_m(amount)} stays taken"
    return f"Dispute {dispute} of {jid} closed, {outcome}. The 'dispute' freeze stays."


def refund_not_taken(jid: str, short: Money, pi: str) -> str:
    return (
        f"A refund of {jid}'s card payment {pi} made at the provider went beyond the unspent "
        f"balance: {_m(short)} of it had been spent and was not taken from the account."
    )


def renewal_line(needed: Money, covered: Money, at: datetime | None) -> str:
    when = f" on {day_label(at)}" if at else ""
    return f"your next renewal{when} is {_m(needed)} and your balances hold {_m(covered)}"

"""What the billing cycle tells people: short plain text for a phone, one kind each.

Pure functions: each returns a ``Notice`` with the idempotency key under
which it is queued (``store.outbox.notify(..., key=notice.key)``), so a
chore that runs again after a crash tells nobody twice.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from payments.billing.rules import Invoice
from payments.clock import day_label, month_label
from payments.money import Money, format_money
from payments.notices import Notice, NoticeKind


@lru_cache(maxsize=1024)  # the renew chore formats a page's few amounts thousands of times
def _m(amount: Money) -> str:
    return format_money(amount)


def invoice_summary(invoice: Invoice) -> str:
    """``Invoice 2026-05: basic $10.00, basic for bob@x $10.00; $12.00 due.``"""
    lines = ", ".join(
        f"{ln.plan} {_m(ln.amount)}" if ln.member == invoice.jid else f"{ln.member} {_m(ln.amount)}"
        for ln in invoice.lines
    )
    return f"Invoice {month_label(invoice.period)}: {lines}; {_m(invoice.due)} due."


def plan_activated(jid: str, plan_name: str, price: Money, paid_until: datetime) -> Notice:
    return Notice(
        jid,
        NoticeKind.PLAN_ACTIVATED,
        f"Your account is now on the {plan_name} plan ({_m(price)}/month). "
        f"First month paid; next renewal {day_label(paid_until)}.",
        f"activated:{jid}",
    )


def renewal_done(
    jid: str, period: str, charged: Money, balance: Money, following: datetime
) -> Notice:
    return Notice(
        jid,
        NoticeKind.RENEWAL_DONE,
        f"Renewed for {month_label(period)}: {_m(charged)} paid. "
        f"Balance {_m(balance)}. Next renewal {day_label(following)}.",
        f"renewal:{jid}:{period}",
    )


def renewal_failed(jid: str, invoice: Invoice, grace_until: datetime) -> Notice:
    return Notice(
        jid,
        NoticeKind.RENEWAL_FAILED,
        f"Renewal failed: {_m(invoice.due)} is missing. {invoice_summary(invoice)} "
        f"Top up by {day_label(grace_until)} or the account is frozen. Send 'topup' then 'pay'.",
        f"renewal:{jid}:{invoice.period}",
    )


def invoice_paid(jid: str, invoice_period: str, amount: Money) -> Notice:
    return Notice(
        jid,
        NoticeKind.INVOICE_PAID,
        f"Invoice {month_label(invoice_period)} paid: {_m(amount)}.",
        f"invoice_paid:{jid}:{invoice_period}:{amount.units}",
    )


def unpaid_reminder(
    jid: str, owed: Money, invoices: list[Invoice], number: int, since: str
) -> Notice:
    detail = " ".join(invoice_summary(inv) for inv in invoices if inv.open)
    return Notice(
        jid,
        NoticeKind.UNPAID_REMINDER,
        f"Reminder: you owe {_m(owed)}. {detail} Send 'topup' to pay, then 'pay'.",
        f"reminder:{jid}:{since}:{number}",
    )


def low_balance(jid: str, needed: Money, balance: Money, renewal: datetime, period: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.LOW_BALANCE,
        f"Your renewal on {day_label(renewal)} costs {_m(needed)}; your balance is "
        f"{_m(balance)}. Send 'topup' to add {_m(needed - balance)} or more.",
        f"low_balance:{jid}:{period}",
    )


def trial_ending(jid: str, ends: datetime, activation: Money) -> Notice:
    return Notice(
        jid,
        NoticeKind.TRIAL_ENDING,
        f"Your trial ends on {day_label(ends)}. Top up {_m(activation)} to keep your "
        "account: send 'topup'.",
        f"trial_ending:{jid}:{day_label(ends)}",
    )


def trial_ended(jid: str, activation: Money) -> Notice:
    return Notice(
        jid,
        NoticeKind.TRIAL_ENDED,
        f"Your trial has ended and the account is frozen. Top up {_m(activation)} to "
        "activate it: send 'topup'.",
        f"trial_ended:{jid}",
    )


def frozen(jid: str, owed: Money, closes: datetime, since: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.FROZEN,
        f"Your account is frozen: {_m(owed)} unpaid. It closes on {day_label(closes)} "
        "unless paid. Send 'topup' then 'pay'.",
        f"frozen:{jid}:{since}",
    )


def leaf_frozen(leaf: str, main: str, since: str) -> Notice:
    return Notice(
        leaf,
        NoticeKind.FROZEN,
        f"Your account is frozen: {main}, who pays for it, has not paid.",
        f"frozen:{leaf}:{since}",
    )


def unfrozen(jid: str, since: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.UNFROZEN,
        "Payment received: your account is no longer frozen.",
        f"unfrozen:{jid}:{since}",
    )


def closure_warning(jid: str, owed: Money, closes: datetime, since: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.CLOSURE_WARNING,
        f"Last notice: your account closes on {day_label(closes)} and its number is "
        f"released unless {_m(owed)} is paid. Send 'topup' then 'pay'.",
        f"closure_warning:{jid}:{since}",
    )


def closed(jid: str, number: str) -> Notice:
    released = f" Number {number} was released." if number else ""
    return Notice(
        jid,
        NoticeKind.CLOSED,
        f"Your account is closed for non-payment.{released} Its history is kept.",
        f"closed:{jid}:{number}",
    )


def leaf_detached(leaf: str, main: str, activation: Money) -> Notice:
    return Notice(
        leaf,
        NoticeKind.LEAF_DETACHED,
        f"{main} no longer pays for your account (it was closed). Top up "
        f"{_m(activation)} to keep your account: send 'topup'.",
        f"detached:{leaf}:{main}",
    )


def operator_frozen(jid: str, reason: str, since: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.FROZEN,
        f"Your account is frozen by an operator: {reason}",
        f"frozen:{jid}:operator:{since}",
    )


def operator_unfrozen(jid: str, since: str) -> Notice:
    return Notice(
        jid,
        NoticeKind.UNFROZEN,
        "An operator lifted the freeze of your account.",
        f"unfrozen:{jid}:operator:{since}",
    )


def frozen_line(kinds: dict[str, str], owed: Money, activation: Money, trial: bool) -> str:
    """The one line a frozen account reads on every interaction: why, what is due, what fixes it.

    ``kinds`` maps each freeze kind to its recorded reason.
    """
    operator = [why for kind, why in sorted(kinds.items()) if kind != "billing"]
    if operator:
        return f"Your account is frozen by an operator: {'; '.join(operator)}"
    if trial:
        return (
            f"Your account is frozen: the trial has ended. Top up {_m(activation)}: send 'topup'."
        )
    if owed.units:
        return f"Your account is frozen: {_m(owed)} is due. Send 'topup', then 'pay'."
    return "Your account is frozen: it was paid for by another account. Send 'topup'."

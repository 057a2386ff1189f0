"""What payments in tell people: the receipt of a payment, which says where they
stand and the one next step (short plain text for a phone)."""

from __future__ import annotations

from payments.money import Money, format_money
from payments.notices import Notice, NoticeKind


def payment_received(
    jid: str,
    ref: str,
    amount: Money,
    balance: Money,
    *,
    kept_by: str = "",
    closed: bool = False,
    to_activate: Money | None = None,
    by_operator: bool = False,
) -> Notice:
    """The receipt: ``kept_by`` names the main of a leaf (the money waits on the leaf's
    own balance), ``closed`` an account that must be reopened, ``to_activate`` what a
    trial still lacks to become a paid account; ``by_operator`` a credit from the
    service's operators rather than a payment."""
    kind = NoticeKind.OPERATOR_CREDIT if by_operator else NoticeKind.PAYMENT_RECEIVED
    if by_operator:
        body = f"We added {format_money(amount)} to your account."
    else:
        body = f"Payment received: {format_money(amount)}."
    body += f" Balance: {format_money(balance)}."
    if closed:
        body += " Your account is closed: send 'register' to reopen it with this balance."
    elif kept_by:
        body += (
            f" {kept_by} pays for your account, so this stays on your own balance"
            " until you pay for yourself."
        )
    elif to_activate is not None and to_activate.units > 0:
        body += f" {format_money(to_activate)} more makes it a paid account: send 'topup'."
    return Notice(jid, kind, body, key=ref)


def topup_refused(main: str, closed: bool) -> str:
    """Why the top-up page takes no payment for this account now."""
    if closed:
        return "Your account is closed. Send 'register' to the bot to reopen it, then top up."
    return f"{main or 'Another account'} pays for your account: it needs no top-up."


def activation_hint(holds: Money, needs: Money, amount: Money | None) -> str:
    """What a trial's top-up does to it: ``holds`` of the ``needs`` that activate it."""
    lacks = needs - holds
    if lacks.units <= 0:
        return ""
    if amount is None:
        return (
            f"Your account becomes a paid account once its balance reaches {format_money(needs)}:"
            f" you have {format_money(holds)}, so pay {format_money(lacks)} or more."
        )
    if amount < lacks:
        return (
            f"That will not activate your account yet: it needs {format_money(lacks)} more"
            f" (you have {format_money(holds)} of {format_money(needs)})."
        )
    return "That activates your account: its first month is paid from it."

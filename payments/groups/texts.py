"""What the group flows tell people unasked: invitations, joins, leaves, a main that cannot pay.

Pure functions: each returns a ``Notice`` with the idempotency key it is
queued under (``store.outbox.notify(..., key=notice.key)``), so a flow run
again after a crash tells nobody twice. A main's balance never appears in a
leaf's notice.
"""

from __future__ import annotations

from datetime import datetime

from payments.clock import day_label
from payments.codes import GROUP_CODES
from payments.groups.rules import JoinPrice
from payments.money import Money, format_money
from payments.notices import Notice, NoticeKind


def invitation(invitee: str, main: str, plan_name: str, code: str, expires: datetime) -> Notice:
    shown = GROUP_CODES.display(code)
    return Notice(
        invitee,
        NoticeKind.INVITATION,
        f"{main} offers to pay for your account ({plan_name} plan). "
        f"Send 'accept {shown}' to agree or 'decline {shown}' to refuse. "
        f"The offer ends on {day_label(expires)}.",
        f"invitation:{code}",
    )


def leaf_joined(main: str, leaf: str, price: JoinPrice, ref: str, at: datetime) -> Notice:
    return Notice(
        main,
        NoticeKind.LEAF_JOINED,
        f"{leaf} joined: you now pay for it. Charged {format_money(price.amount)} "
        f"up to {day_label(price.paid_until)}; from then {format_money(price.full)} a month.",
        f"joined:{main}:{ref}:{at.isoformat()}",
    )


def join_unpaid(main: str, leaf: str, missing: Money, at: datetime) -> Notice:
    return Notice(
        main,
        NoticeKind.JOIN_UNPAID,
        f"{leaf} accepted to be paid for by you, but your balance lacks "
        f"{format_money(missing)}. Send 'topup', then ask {leaf} to accept again.",
        f"join_unpaid:{main}:{leaf}:{at.isoformat()}",
    )


def leaf_left_main(main: str, leaf: str, by_main: bool, paid_until: datetime, at: str) -> Notice:
    what = "You no longer pay for" if by_main else "Left your group:"
    return Notice(
        main,
        NoticeKind.LEAF_LEFT,
        f"{what} {leaf}. It stays paid until {day_label(paid_until)}; "
        "nothing more is charged for it.",
        f"left:{main}:{leaf}:{at}",
    )


def leaf_left_leaf(
    leaf: str, main: str, by_main: bool, paid_until: datetime, activation: Money, at: str
) -> Notice:
    who = f"{main} no longer pays for your account" if by_main else f"You left {main}'s group"
    return Notice(
        leaf,
        NoticeKind.LEAF_LEFT,
        f"{who}. It stays paid until {day_label(paid_until)}; to keep it after that, "
        f"top up {format_money(activation)}: send 'topup'.",
        f"left:{leaf}:{main}:{at}",
    )

"""What a move tells people: the offer to the new JID, and both JIDs once it is done."""

from __future__ import annotations

from datetime import datetime

from payments.clock import day_label
from payments.codes import MOVE_CODES
from payments.notices import Notice, NoticeKind


def offer(new: str, old: str, code: str, expires: datetime) -> Notice:
    shown = MOVE_CODES.display(code)
    return Notice(
        new,
        NoticeKind.MOVE_OFFER,
        f"{old} asks to move its account to this address: its balance, plan, number, "
        f"invoices and credits would be yours. To accept, send 'claim {shown}' before "
        f"{expires:%Y-%m-%d %H:%M} UTC. If you did not expect this, ignore it.",
        f"move_offer:{code}",
    )


def moved_old(old: str, new: str, move_id: str, at: datetime) -> Notice:
    return Notice(
        old,
        NoticeKind.ACCOUNT_MOVED,
        f"Your account moved to {new} on {day_label(at)}: everything is there now. "
        "This address has no account any more.",
        f"moved:{move_id}:old",
    )


def moved_new(new: str, old: str, move_id: str, at: datetime) -> Notice:
    return Notice(
        new,
        NoticeKind.ACCOUNT_MOVED,
        f"The account of {old} is yours now ({day_label(at)}): its balance, plan, number, "
        "invoices and credits. Send 'balance' to see it.",
        f"moved:{move_id}:new",
    )

"""Which notices a user may turn off, and why the others are always sent.

The optional kinds are ``payments.notices.NoticeChoice`` (the outbox reads the
choices when it queues a notice); everything else the system says unasked is
grouped here under a name people can type, with the reason it cannot be
turned off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from payments.errors import NotAllowed, PaymentsError
from payments.notices import OPTIONAL, NoticeChoice, NoticeKind


@dataclass(frozen=True, slots=True)
class Kind:
    name: str  # what users type: `notify usage off`
    what: str  # what these notices say
    why_always: str = ""  # '' for a choice; else why it cannot be turned off

    @property
    def optional(self) -> bool:
        return not self.why_always


KINDS: Final = (
    Kind(NoticeChoice.USAGE, "usage at 75%, 90% and 100% of the month's allowance and credits"),
    Kind(NoticeChoice.LOW_BALANCE, "low balance a few days before a renewal"),
    Kind(NoticeChoice.RENEWAL, "the receipt of each renewal"),
    Kind(NoticeChoice.CREDITS_EXPIRING, "credits of a pack about to expire"),
    Kind(
        "payments",
        "payments received, charges, invoices, reminders of what is owed",
        "they say what was taken from you, paid or is owed",
    ),
    Kind("freezes", "freezes and unfreezes", "they say why your account is blocked"),
    Kind("closure", "closure warnings and closure", "they come before your number is released"),
    Kind(
        "groups",
        "invitations, who joined or left the accounts you pay for",
        "both sides of a payment between accounts must know of it",
    ),
    Kind("referrals", "rewards for people you referred", "they say what was added to your balance"),
    Kind("moves", "moves of your account to a new address", "they concern who holds your account"),
)
BY_NAME: Final = {kind.name: kind for kind in KINDS}
# Every kind of notice (payments.notices.NoticeKind) under the name it is chosen by, so that
# `notify frozen off` says why freezes are always sent.
_GROUPS: Final = (
    ("payments", (
        NoticeKind.PAYMENT_RECEIVED, NoticeKind.OPERATOR_CREDIT, NoticeKind.PLAN_ACTIVATED,
        NoticeKind.RENEWAL_FAILED, NoticeKind.INVOICE_PAID, NoticeKind.UNPAID_REMINDER,
        NoticeKind.TRIAL_ENDING, NoticeKind.TRIAL_ENDED,
    )),
    ("freezes", (NoticeKind.FROZEN, NoticeKind.UNFROZEN)),
    ("referrals", (NoticeKind.REFERRAL_REWARD,)),
    ("moves", (NoticeKind.MOVE_OFFER, NoticeKind.ACCOUNT_MOVED)),
    ("closure", (NoticeKind.CLOSURE_WARNING, NoticeKind.CLOSED, NoticeKind.LEAF_DETACHED)),
    ("groups", (
        NoticeKind.INVITATION, NoticeKind.LEAF_JOINED, NoticeKind.LEAF_LEFT,
        NoticeKind.JOIN_UNPAID,
    )),
)  # fmt: skip
KIND_OF: Final[dict[str, str]] = {
    **{kind: choice.value for kind, choice in OPTIONAL.items()},
    **{kind.value: name for name, kinds in _GROUPS for kind in kinds},
}


class UnknownKind(PaymentsError):
    def __init__(self, text: str) -> None:
        names = ", ".join(kind.name for kind in KINDS if kind.optional)
        super().__init__(f"'{text[:20]}' is not a kind of notice. You may turn off: {names}.")


def choice_of(text: str) -> NoticeChoice:
    """The optional kind ``text`` names; UnknownKind, or NotAllowed with the reason."""
    name = text.strip().lower()
    kind = BY_NAME.get(KIND_OF.get(name, name))
    if kind is None:
        raise UnknownKind(text)
    if not kind.optional:
        raise NotAllowed(f"Notices about {kind.what} cannot be turned off: {kind.why_always}.")
    return NoticeChoice(kind.name)

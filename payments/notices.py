"""What the system tells users unasked: one ``Notice`` type, queued once per key.

Each capability writes its own texts (``billing/texts.py``, ``groups/texts.py``,
``usage/texts.py`` ...) as pure functions returning a ``Notice``; the outbox
(``payments/store/outbox.py``) queues it once per ``key``, so a flow or a
chore run again after a crash tells nobody twice, and the bot sends it.

Some kinds are a user's choice (``notify KIND on|off``, ``OPTIONAL``): the outbox
does not queue a notice of a kind its recipient turned off. The others say what
was taken, paid or is owed, why an account is blocked or closed, who pays for
whom: they are always sent (``payments/notifications/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class NoticeKind(StrEnum):
    # money in
    PAYMENT_RECEIVED = "payment_received"
    OPERATOR_CREDIT = "operator_credit"
    # the billing cycle
    PLAN_ACTIVATED = "plan_activated"
    RENEWAL_DONE = "renewal_done"
    RENEWAL_FAILED = "renewal_failed"
    INVOICE_PAID = "invoice_paid"
    UNPAID_REMINDER = "unpaid_reminder"
    LOW_BALANCE = "low_balance"
    TRIAL_ENDING = "trial_ending"
    TRIAL_ENDED = "trial_ended"
    FROZEN = "frozen"
    UNFROZEN = "unfrozen"
    CLOSURE_WARNING = "closure_warning"
    CLOSED = "closed"
    LEAF_DETACHED = "leaf_detached"
    # payer groups
    INVITATION = "invitation"
    LEAF_JOINED = "leaf_joined"
    LEAF_LEFT = "leaf_left"
    JOIN_UNPAID = "join_unpaid"  # the main's balance did not cover a join
    # usage and credits
    USAGE_THRESHOLD = "usage_threshold"  # 75% or 90% of what the user has this month
    RESOURCE_BLOCKED = "resource_blocked"  # 100%: allowance and credits used up
    LEAF_BLOCKED = "leaf_blocked"  # to a main: a leaf it pays for is blocked
    CREDITS_EXPIRING = "credits_expiring"
    # saved cards
    CARD_SAVED = "card_saved"
    CARD_PAYMENT = "card_payment"  # a card paid an invoice, or an automatic top-up
    CARD_DECLINED = "card_declined"  # every card failed on an invoice (an SCA link when asked)
    AUTOTOPUP_OFF = "autotopup_off"  # turned off after declines in a row
    CARD_REFUND = "card_refund"  # money refunded to a card
    DISPUTE = "dispute"  # a card payment disputed, or its dispute closed (the account, operators)
    # referrals
    REFERRAL_REWARD = "referral_reward"  # to a referrer: a newcomer's first payment settled
    # moves
    MOVE_OFFER = "move_offer"  # to a new JID: an account may move here (`claim CODE`)
    ACCOUNT_MOVED = "account_moved"  # to both JIDs of a move, once done


class NoticeChoice(StrEnum):
    """The notices a user may turn off (``notify KIND off``): each names the kinds it holds."""

    USAGE = "usage"  # 75%, 90% and 100% of a resource this month (and of a leaf's)
    LOW_BALANCE = "low_balance"  # before a renewal the balances will not cover
    RENEWAL = "renewal"  # the receipt of a renewal fully paid
    CREDITS_EXPIRING = "credits_expiring"  # credits of a pack expiring soon


OPTIONAL: Mapping[str, NoticeChoice] = {
    NoticeKind.USAGE_THRESHOLD: NoticeChoice.USAGE,
    NoticeKind.RESOURCE_BLOCKED: NoticeChoice.USAGE,
    NoticeKind.LEAF_BLOCKED: NoticeChoice.USAGE,
    NoticeKind.LOW_BALANCE: NoticeChoice.LOW_BALANCE,
    NoticeKind.RENEWAL_DONE: NoticeChoice.RENEWAL,
    NoticeKind.CREDITS_EXPIRING: NoticeChoice.CREDITS_EXPIRING,
}


@dataclass(frozen=True, slots=True)
class Notice:
    to: str
    kind: str  # a NoticeKind (free text only in tests): for logs, metrics and choices
    body: str
    key: str = ""  # queued once per key (30 days); "" queues every time
    url: str = ""  # sent also as XEP-0066 out-of-band data
    id: str = ""  # the outbox stream id, once queued

    def fields(self) -> dict[str, str]:
        return {
            "to": self.to,
            "body": self.body,
            "url": self.url,
            "kind": str(self.kind),
            "key": self.key,
        }

    @classmethod
    def decode(cls, entry_id: str, fields: Mapping[str, str]) -> Notice:
        return cls(
            to=fields.get("to", ""),
            kind=fields.get("kind", ""),
            body=fields.get("body", ""),
            url=fields.get("url", ""),
            key=fields.get("key", ""),
            id=entry_id,
        )

"""What the system tells users unasked: one ``Notice`` type, queued once per key.

Each capability writes its own texts (``billing/texts.py``, ``groups/texts.py``,
``usage/texts.py`` ...) as pure functions returning a ``Notice``; the outbox
(``payments/store/outbox.py``) queues it once per ``key``, so a flow or a
chore run again after a crash tells nobody twice, and the bot sends it.
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

"""Flows that span several store operations: what happens around a balance change.

Every external credit (operator, voucher, payment webhook) goes through
``credit_account`` so that the rules that follow a credit live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payments.ledger import Applied, Balance, EntryKind
from payments.money import Money
from payments.store import Store


@dataclass(frozen=True, slots=True)
class CreditOutcome:
    applied: Applied
    balance: Balance


async def credit_account(
    store: Store,
    jid: str,
    amount: Money,
    *,
    reason: str,
    kind: EntryKind,
    ref: str = "",
    actor: str = "",
    balance: Balance = Balance.PREPAID,
    at: datetime | None = None,
) -> CreditOutcome:
    applied = await store.ledger.credit(
        jid, amount, reason=reason, kind=kind, balance=balance, ref=ref, actor=actor, at=at
    )
    return CreditOutcome(applied, balance)

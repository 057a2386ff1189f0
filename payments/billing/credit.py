"""Flows that span several store operations: what happens around a balance change.

Every external credit (operator, voucher, payment webhook) goes through
``credit_account`` so that the rules that follow a credit live in one place:
open invoices are settled (smallest first), a trial whose prepaid balance
reached the activation amount becomes paid (its first month charged), and a
billing freeze is lifted once nothing is owed (``payments/cycle.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payments.billing.cycle import Cycle, Settlement, after_credit
from payments.billing.rules import as_utc
from payments.config import BillingConfig
from payments.ledger.records import Applied, Balance, EntryKind, utcnow
from payments.money import Money
from payments.stores import Store


@dataclass(frozen=True, slots=True)
class CreditOutcome:
    applied: Applied
    balance: Balance
    # What followed the credit: invoices settled, activation, unfreeze, still owed.
    settlement: Settlement = field(default_factory=Settlement)


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
    policy: BillingConfig,
) -> CreditOutcome:
    """Credit once per ``ref``, then settle, activate and unfreeze as the policy says.

    ``policy`` is the deployment's ``[billing]`` config (required: a credit
    that ran with other rules than the deployment's would be wrong). A replay of
    a ``ref`` credits nothing but runs what follows again: a retry after a
    crash between the credit and its consequences completes them.
    """
    applied = await store.ledger.credit(
        jid, amount, reason=reason, kind=kind, balance=balance, ref=ref, actor=actor, at=at
    )
    cycle = Cycle(store, policy, actor or "credit")
    settlement = await after_credit(cycle, jid, as_utc(at) if at else utcnow())
    return CreditOutcome(applied, balance, settlement)

"""What follows money coming in: open invoices settled, a trial activated, the
billing freeze lifted.

Every external credit (operator, voucher, payment webhook) goes through
``credit_account`` so that these rules live in one place. A replay of a
credit's ref credits nothing but runs what follows again: a retry after a
crash between the credit and its consequences completes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from payments import keys
from payments.accounts.records import AccountKind
from payments.billing import texts as notices
from payments.billing.cycle import Cycle
from payments.billing.freezes import lift_billing_freeze
from payments.billing.renewal import renew_account
from payments.billing.rules import Subscriber, activation_due, chosen_plan, renewal_day_of
from payments.billing.store import Settled
from payments.clock import as_utc, utcnow
from payments.config import BillingConfig
from payments.ledger.records import Applied, Balance, EntryKind
from payments.money import Money
from payments.stores import Store


@dataclass(frozen=True, slots=True)
class Settlement:
    settled: tuple[Settled, ...] = ()
    missing: Money | None = None  # what the smallest invoice left open still lacks
    activated: bool = False
    unfrozen: bool = False
    owed: Money | None = None  # still owed after all this


async def settle_invoices(
    cycle: Cycle, jid: str, now: datetime, open_invoices: list[tuple[str, Money]] | None = None
) -> tuple[list[Settled], Money | None]:
    """Pay open invoices in full, smallest first, while the balances cover them."""
    paid: list[Settled] = []
    if open_invoices is None:
        open_invoices = await cycle.store.billing.open_invoices(jid)
    for period, _due in open_invoices:
        settled = await cycle.store.billing.settle(jid, period, at=now, actor=cycle.actor)
        if settled.missing.units:
            return paid, settled.missing
        if settled.paid:
            paid.append(settled)
            amount = settled.voucher + settled.prepaid
            await cycle.store.outbox.notify(notices.invoice_paid(jid, period, amount))
    return paid, None


async def after_credit(cycle: Cycle, jid: str, now: datetime) -> Settlement:
    """What follows any credit: settle, activate a trial, unfreeze. Safe to repeat."""
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None or sub.account.closed or sub.account.kind is AccountKind.LEAF:
        return Settlement()
    open_before = await cycle.store.billing.open_invoices(jid)
    settled, missing = await settle_invoices(cycle, jid, now, open_before)
    activated = sub.account.kind is AccountKind.TRIAL and await activate_if_due(cycle, sub, now)
    # A paid account that was neither frozen nor owing has nothing more to do:
    # the common case of a top-up stays three reads.
    unfrozen = False
    if sub.account.frozen or open_before or activated:
        unfrozen = await lift_billing_freeze(cycle, jid, now)
    owed = await cycle.store.billing.owed(jid) if open_before else cycle.money(0)
    return Settlement(tuple(settled), missing, activated, unfrozen, owed)


async def pay_invoices(cycle: Cycle, jid: str, now: datetime) -> Settlement:
    """``pay``: settle what the balances cover and unfreeze when nothing is owed."""
    settled, missing = await settle_invoices(cycle, jid, now)
    unfrozen = await lift_billing_freeze(cycle, jid, now)
    owed = await cycle.store.billing.owed(jid)
    return Settlement(tuple(settled), missing, False, unfrozen, owed)


async def activate_if_due(cycle: Cycle, sub: Subscriber, now: datetime) -> bool:
    """Upgrade a trial whose prepaid balance reached the activation amount, and bill it."""
    store, jid = cycle.store, sub.account.jid
    balances = await store.ledger.balances(jid)
    if not activation_due(sub.account, balances.prepaid, cycle.policy):
        return False
    plan = await store.plans.get(chosen_plan(sub.account, cycle.policy))
    if plan is None:
        plan = await store.plans.get(cycle.policy.default_plan)
    if plan is None:
        return False  # no plan to sell yet: the operator must create the default plan
    # Scheduled first: if we crash after activating, the renew chore bills it.
    await store.billing.schedule(keys.RENEWALS, jid, now)
    activated = await store.billing.activate(jid, plan, at=now, renewal_day=renewal_day_of(now))
    await lift_billing_freeze(cycle, jid, now)  # a trial that had ended
    await store.billing.unschedule(keys.TRIAL_ENDS, jid)
    await renew_account(cycle, jid, now)
    return activated


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

"""What follows money coming in: open invoices settled, the billing freeze lifted,
a trial activated.

Every external credit (operator, voucher, payment webhook) goes through
``credit_account`` so that these rules live in one place. A replay of a
credit's ref credits nothing but runs what follows again: a retry after a
crash between the credit and its consequences completes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from payments.accounts.records import AccountKind
from payments.billing import texts as notices
from payments.billing.activation import activate_if_due
from payments.billing.cycle import Cycle
from payments.billing.lifting import after_unfreeze, lift_paid_freeze, schedule_held_renewal
from payments.billing.store import Settled
from payments.clock import as_utc, utcnow
from payments.config import BillingConfig
from payments.ledger.records import Applied, Balance, EntryKind
from payments.money import Money
from payments.notices import Notice
from payments.stores import Store

Receipt = Callable[[Applied], Awaitable[Notice]]  # the notice of a credit, once applied


@dataclass(frozen=True, slots=True)
class Settlement:
    settled: tuple[Settled, ...] = ()
    missing: Money | None = None  # what the smallest invoice left open still lacks
    activated: bool = False
    unfrozen: bool = False
    owed: Money | None = None  # still owed after all this
    kept: bool = False  # a closed account or a leaf: the money waits on its own balance


async def settle_invoices(
    cycle: Cycle, jid: str, now: datetime, open_invoices: list[tuple[str, Money]] | None = None
) -> tuple[list[Settled], Money | None]:
    """Pay open invoices in full, smallest first, while the balances cover them; the last
    one paid lifts the billing freeze in the same step (``settle.lua``)."""
    paid: list[Settled] = []
    missing = None
    if open_invoices is None:
        open_invoices = await cycle.store.billing.open_invoices(jid)
    for period, _due in open_invoices:
        settled = await cycle.store.billing.settle(jid, period, at=now, actor=cycle.actor)
        if settled.missing.units:
            missing = settled.missing
            break
        if settled.paid:
            paid.append(settled)
            await cycle.store.credits.schedule_grants(jid)  # recurring packs granted once paid
            amount = settled.voucher + settled.prepaid
            await cycle.store.outbox.notify(notices.invoice_paid(jid, period, amount))
        if settled.lifted is not None:
            await after_unfreeze(cycle, jid, settled.lifted, now)
    if paid:  # money taken: below the threshold of an automatic top-up?
        await cycle.store.cards.watch_spending([jid], now)
    return paid, missing


async def after_credit(cycle: Cycle, jid: str, now: datetime) -> Settlement:
    """What follows any credit: settle, unfreeze, activate a trial. Safe to repeat.

    A closed account or a leaf keeps the money on its own balance (a closed
    account gets it back with ``register``, a leaf when it pays for itself).
    """
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None:
        return Settlement()
    if sub.account.closed or sub.account.kind is AccountKind.LEAF:
        return Settlement(kept=True)
    open_before = await cycle.store.billing.open_invoices(jid)
    # A paid account that was neither frozen nor owing has nothing more to do:
    # the common case of a top-up stays two reads.
    if not (sub.account.frozen or open_before or sub.account.kind is AccountKind.TRIAL):
        return Settlement()
    await schedule_held_renewal(cycle, sub, now)
    settled, missing = await settle_invoices(cycle, jid, now, open_before)
    unfrozen = any(s.lifted is not None for s in settled)
    if not missing:
        unfrozen = await lift_paid_freeze(cycle, jid, now) or unfrozen
    activated = await activate_if_due(cycle, sub, now)
    owed = await cycle.store.billing.owed(jid) if open_before else Money.zero(sub.account.currency)
    return Settlement(tuple(settled), missing, activated, unfrozen or activated, owed)


async def pay_invoices(cycle: Cycle, jid: str, now: datetime) -> Settlement:
    """``pay``: settle what the balances cover and unfreeze when nothing is owed."""
    sub = await cycle.store.billing.subscriber(jid)
    if sub is not None:
        await schedule_held_renewal(cycle, sub, now)
    settled, missing = await settle_invoices(cycle, jid, now)
    unfrozen = any(s.lifted is not None for s in settled)
    if not missing:
        unfrozen = await lift_paid_freeze(cycle, jid, now) or unfrozen
    owed = await cycle.store.billing.owed(jid)
    return Settlement(tuple(settled), missing, False, unfrozen, owed)


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
    receipt: Receipt | None = None,
) -> CreditOutcome:
    """Credit once per ``ref``, then settle, activate and unfreeze as the policy says.

    ``receipt`` builds the notice of the credit itself; it is queued after the credit
    and before what follows, so a payment's "received" comes before "your account is
    now on Basic" or "invoice paid", as things happened.

    ``policy`` is the deployment's ``[billing]`` config (required: a credit
    that ran with other rules than the deployment's would be wrong). A replay of
    a ``ref`` credits nothing but runs what follows again: a retry after a
    crash between the credit and its consequences completes them.
    """
    applied = await store.ledger.credit(
        jid, amount, reason=reason, kind=kind, balance=balance, ref=ref, actor=actor, at=at
    )
    cycle = Cycle(store, policy, actor or "credit")
    if receipt is not None:
        await store.outbox.notify(await receipt(applied))
    settlement = await after_credit(cycle, jid, as_utc(at) if at else utcnow())
    return CreditOutcome(applied, balance, settlement)

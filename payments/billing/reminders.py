"""Reminders: weekly while unpaid, the closure warning, low balance before a
renewal, a trial about to end. Each is queued once (deduplicated by key).
"""

from __future__ import annotations

from datetime import datetime

from payments.accounts.records import AccountKind, FreezeKind
from payments.billing import texts as notices
from payments.billing.cycle import Cycle
from payments.billing.renewal import Renewed, preview_renewal
from payments.billing.rules import closes_at, closure_warning_due, reminder_number, total_of
from payments.notices import Notice


async def remind_unpaid(cycle: Cycle, jid: str, now: datetime, *, send: bool) -> list[Notice]:
    """The weekly reminder (with the invoices) and, near closure, the closure warning."""
    store = cycle.store
    sub = await store.billing.subscriber(jid)
    if sub is None or sub.account.closed:
        return []
    owed = await store.billing.owed(jid)
    since = sub.state.unpaid_since
    if not owed.units or since is None:
        return []
    due: list[Notice] = []
    number = reminder_number(since, now, cycle.policy)
    if number >= 1:
        open_invoices = [i for i in await store.billing.invoices(jid) if i.open]
        due.append(notices.unpaid_reminder(jid, owed, open_invoices, number, since.isoformat()))
    record = await store.freezes.record(jid, FreezeKind.BILLING)
    if record is not None and closure_warning_due(record.when, now, cycle.policy):
        closes = closes_at(record.when, cycle.policy)
        due.append(notices.closure_warning(jid, owed, closes, record.when.isoformat()))
    return [n for n in due if not send or await cycle.store.outbox.notify(n)]


async def warn_low_balance(cycle: Cycle, jid: str, now: datetime, *, send: bool) -> list[Notice]:
    """Before a renewal the balances will not cover (once per period)."""
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None or sub.account.next_renewal_at is None:
        return []
    preview = await preview_renewal(cycle, jid, sub.account.next_renewal_at)
    if preview.result is not Renewed.INVOICED:
        return []
    needed = total_of((line for line, _ in preview.lines), sub.account.currency)
    balance = (await cycle.store.ledger.balances(jid)).total
    notice = notices.low_balance(jid, needed, balance, sub.account.next_renewal_at, preview.period)
    return [notice] if not send or await cycle.store.outbox.notify(notice) else []


async def warn_trial_ending(cycle: Cycle, jid: str, now: datetime, *, send: bool) -> list[Notice]:
    account = await cycle.store.accounts.get(jid)
    if account is None or account.kind is not AccountKind.TRIAL or account.trial_ends_at is None:
        return []
    if account.closed or account.trial_ends_at <= now:
        return []
    activation = cycle.policy_in(account.currency).activation_amount
    notice = notices.trial_ending(jid, account.trial_ends_at, activation)
    return [notice] if not send or await cycle.store.outbox.notify(notice) else []

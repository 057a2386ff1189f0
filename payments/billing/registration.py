"""Registration: a new trial, or a closed account reopened with its money.

Closure keeps an account's balances, ledger and invoices; ``register`` from
the same JID reopens it as a trial that has ended (no second free trial),
billing-frozen until a top-up activates it. What it holds is applied at once:
old invoices settled, and activation if the prepaid balance allows.
"""

from __future__ import annotations

from datetime import datetime

from payments import keys
from payments.accounts.store import Registered
from payments.billing.cycle import Cycle
from payments.billing.payment import after_credit


async def register(cycle: Cycle, jid: str, now: datetime) -> Registered:
    store = cycle.store
    registered = await store.accounts.register_trial(jid, now, cycle.policy.trial_days)
    if registered is Registered.REOPENED:
        sub = await store.billing.subscriber(jid)
        since = sub.state.unpaid_since if sub is not None else None
        if since is not None:  # an old debt: the freeze chore looks at it again
            await store.schedules.add_early(keys.UNPAID, jid, since)
        await after_credit(cycle, jid, now)
    return registered

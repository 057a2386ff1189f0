"""Activation: a trial whose prepaid balance reached the activation amount becomes a
paid account on the plan it chose (or the default plan), billed at once.

``activate.lua`` checks, at commit, that the account is still a trial holding
the amount, and lifts an ended trial's freeze in the same step; the first
period is then billed like any renewal (``renewal.renew_account``).
"""

from __future__ import annotations

from datetime import datetime

from payments import keys
from payments.accounts.records import AccountKind
from payments.billing.cycle import Cycle
from payments.billing.lifting import after_unfreeze
from payments.billing.renewal import renew_account
from payments.billing.rules import Subscriber, chosen_plan, renewal_day_of


async def activate_if_due(cycle: Cycle, sub: Subscriber, now: datetime) -> bool:
    """Upgrade a trial that holds the activation amount, and bill its first month."""
    store, jid = cycle.store, sub.account.jid
    policy = cycle.policy_in(sub.account.currency)
    if sub.account.closed or sub.account.kind is not AccountKind.TRIAL:
        return False
    # The plan chosen, or the default plan, at its price in the account's currency.
    plan = await store.plans.get_in(chosen_plan(sub.account, policy), policy.currency)
    if plan is None:
        plan = await store.plans.get_in(policy.default_plan, policy.currency)
    if plan is None:
        return False  # no plan to sell yet: the operator must create the default plan
    # Scheduled first: if we crash after activating, the renew chore bills it.
    await store.schedules.add_early(keys.RENEWALS, jid, now)
    activated = await store.billing.activate(
        jid, plan, at=now, renewal_day=renewal_day_of(now), activation=policy.activation_amount
    )
    if not activated.done:
        return False
    await store.schedules.remove(keys.TRIAL_ENDS, jid)  # a paid account has no trial to end
    if activated.lifted is not None:
        await after_unfreeze(cycle, jid, activated.lifted, now)
    await renew_account(cycle, jid, now)
    return True

"""``plan ID``: an account chooses the plan it renews on (the bot, the account page),
and what it is told.

A paid account switches at its next renewal, at the plan's price of that day
(``renew.lua`` applies the choice); choosing its current plan cancels a
pending change. A trial's choice applies at its activation, at once if it
already holds the activation amount. A leaf's plan is its main's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments.accounts.records import AccountKind
from payments.billing.activation import activate_if_due
from payments.billing.cycle import Cycle
from payments.catalog.records import Plan
from payments.clock import day_label
from payments.errors import NotAllowed, PaymentsError
from payments.money import Money, format_money


class UnknownPlan(PaymentsError):
    def __init__(self, plan_id: str) -> None:
        super().__init__(f"There is no plan '{plan_id}'. Send 'plans' to see them.")
        self.plan_id = plan_id


class Chosen(StrEnum):
    STAYS = "stays"  # its current plan: a pending change is cancelled
    AT_RENEWAL = "at_renewal"  # a paid account: from its next renewal
    ACTIVATED = "activated"  # a trial that held the activation amount: paid now
    AT_ACTIVATION = "at_activation"  # a trial: once it tops up the activation amount


@dataclass(frozen=True, slots=True)
class Choice:
    outcome: Chosen
    plan: Plan
    starts: datetime | None = None  # the next renewal (AT_RENEWAL)
    holds: Money | None = None  # a trial's prepaid balance (AT_ACTIVATION)
    lacks: Money | None = None  # what it still needs to activate (AT_ACTIVATION)


async def choose_plan(cycle: Cycle, jid: str, plan_id: str, now: datetime) -> Choice:
    """Record ``jid``'s choice; NotAllowed for a stranger or a leaf, UnknownPlan."""
    store = cycle.store
    account = await store.accounts.get(jid)
    if account is None or account.closed:
        raise NotAllowed("You have no account yet: send 'register' to start a trial.")
    if account.kind is AccountKind.LEAF:
        raise NotAllowed("Your plan is chosen by the account that pays for you.")
    plan = await store.plans.get_in(plan_id.strip().lower(), account.currency)
    if plan is None:  # not in the catalog, or not sold in the account's currency
        raise UnknownPlan(plan_id)
    if account.kind is AccountKind.PAID and plan.id == account.plan:
        await store.billing.set_next_plan(jid, "")
        return Choice(Chosen.STAYS, plan)
    await store.billing.set_next_plan(jid, plan.id)
    if account.kind is AccountKind.PAID:
        return Choice(Chosen.AT_RENEWAL, plan, account.next_renewal_at)
    sub = await store.billing.subscriber(jid)
    if sub is not None and await activate_if_due(cycle, sub, now):
        return Choice(Chosen.ACTIVATED, plan)
    holds = (await store.ledger.balances(jid)).prepaid
    lacks = cycle.policy.in_currency(holds.currency).activation_amount - holds
    lacks = max(lacks, Money.zero(holds.currency))
    return Choice(Chosen.AT_ACTIVATION, plan, holds=holds, lacks=lacks)


def plan_price(plan: Plan) -> str:
    """``Basic ($10.00 a month)``."""
    return f"{plan.name} ({format_money(plan.price)} a month)"


def choice_said(choice: Choice, how_to_top_up: str = "with 'topup'") -> str:
    """What ``plan ID`` answers (the bot, the account page): where the account stands with
    its choice, and the one next step (``how_to_top_up``: where the asker tops up)."""
    name = plan_price(choice.plan)
    if choice.outcome is Chosen.STAYS:
        return f"You stay on {name}."
    if choice.outcome is Chosen.AT_RENEWAL:
        when = day_label(choice.starts) if choice.starts else "your next renewal"
        return f"{name} starts at your next renewal, on {when}."
    if choice.outcome is Chosen.ACTIVATED:
        return f"Your account is now on {name}. The first month is paid."
    holds, lacks = choice.holds, choice.lacks
    assert holds is not None
    assert lacks is not None
    return (
        f"{name} starts once your balance reaches {format_money(holds + lacks)}. "
        f"You have {format_money(holds)}: top up {format_money(lacks)} more {how_to_top_up}."
    )

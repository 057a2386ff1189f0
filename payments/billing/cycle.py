"""The billing cycle's context: the store, the deployment's policy and who acts.

The cycle itself is in ``renewal.py`` (monthly charges), ``payment.py`` (what
follows a credit), ``freezes.py`` (grace, freeze, closure) and
``reminders.py``; each function there is a sequence of single-account atomic
steps, idempotent, ordered so that running it again after a crash completes
the work and charges nobody twice."""

from __future__ import annotations

from dataclasses import dataclass, replace

from payments.config import BillingConfig
from payments.money import Money
from payments.stores import Store


def default_policy(currency: str) -> BillingConfig:
    """The default billing policy in a deployment's currency."""
    base = BillingConfig()
    return replace(
        base,
        currency=currency,
        activation_amount=Money(base.activation_amount.units, currency),
        max_amount=Money(base.max_amount.units, currency),
    )


@dataclass(frozen=True, slots=True)
class Cycle:
    """What every step needs: the store, the policy, and who acts (for the ledger)."""

    store: Store
    policy: BillingConfig
    actor: str = "chore"

    def money(self, units: int) -> Money:
        return Money(units, self.policy.currency)

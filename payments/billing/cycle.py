"""The billing cycle's context: the store, the deployment's policy and who acts.

The cycle itself is in ``renewal.py`` (monthly charges), ``payment.py`` (what
follows a credit), ``freezes.py`` (grace, freeze, closure) and
``reminders.py``; each function there is a sequence of single-account atomic
steps, idempotent, ordered so that running it again after a crash completes
the work and charges nobody twice."""

from __future__ import annotations

from dataclasses import dataclass, replace

from payments.config import BillingConfig
from payments.stores import Store


def default_policy(currency: str, *others: str) -> BillingConfig:
    """The default billing policy with ``currency`` the default (then ``others``)."""
    return replace(BillingConfig(), currencies=(currency, *others)).in_currency(currency)


@dataclass(frozen=True, slots=True)
class Cycle:
    """What every step needs: the store, the policy, and who acts (for the ledger).

    The policy's amounts are in the default currency; ``policy_in`` gives them in an
    account's (each account counts in its own)."""

    store: Store
    policy: BillingConfig
    actor: str = "chore"

    def policy_in(self, currency: str) -> BillingConfig:
        return self.policy.in_currency(currency)

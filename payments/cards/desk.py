"""What the card flows need: the store, the deployment's config, the card provider, who acts."""

from __future__ import annotations

from dataclasses import dataclass

from payments.billing.cycle import Cycle
from payments.config import Config
from payments.stores import Store
from payments.topup.providers.cards import CardProvider


@dataclass(frozen=True)
class Desk:
    store: Store
    config: Config
    provider: CardProvider
    actor: str = "cards"

    def cycle(self) -> Cycle:
        """The billing cycle a card payment hands over to (settle, unfreeze, activate)."""
        return Cycle(self.store, self.config.billing, self.actor)

    @property
    def paid_by(self) -> str:
        """The actor of the ledger entries the provider's money writes."""
        return f"provider:{self.provider.name}"

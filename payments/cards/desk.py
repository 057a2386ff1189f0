"""What the card flows need: the store, the deployment's config, the card provider, who acts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import aiohttp

from payments.billing.cycle import Cycle
from payments.config import Config
from payments.stores import Store
from payments.topup.providers.cards import CardProvider
from payments.topup.providers.stripe_cards import StripeCards

PROVIDER_TIMEOUT: Final = aiohttp.ClientTimeout(total=20, connect=5)


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


@asynccontextmanager
async def opened_desk(store: Store, config: Config, actor: str) -> AsyncIterator[Desk | None]:
    """A desk over Stripe's API for a command-line run (None when Stripe is not enabled);
    its HTTP client is closed on exit."""
    stripe = config.providers.stripe
    if not stripe.enabled:
        yield None
        return
    async with aiohttp.ClientSession(timeout=PROVIDER_TIMEOUT) as http:
        yield Desk(store, config, StripeCards(stripe, config.billing.currency, http), actor)

"""Payment providers behind one small interface (``base.Provider``)."""

from __future__ import annotations

import aiohttp

from payments.config import Config
from payments.topup.providers.base import (
    Checkout,
    PaymentEvent,
    PaymentRequest,
    Provider,
    ProviderError,
    Refusal,
    WebhookRefused,
)
from payments.topup.providers.btcpay import BtcpayProvider
from payments.topup.providers.stripe import StripeProvider
from payments.topup.providers.testprovider import InstantProvider

__all__ = [
    "BtcpayProvider",
    "Checkout",
    "InstantProvider",
    "PaymentEvent",
    "PaymentRequest",
    "Provider",
    "ProviderError",
    "Refusal",
    "StripeProvider",
    "WebhookRefused",
    "enabled_providers",
]


def enabled_providers(config: Config, http: aiohttp.ClientSession) -> dict[str, Provider]:
    """The providers enabled in config, by name, in the order the page shows them."""
    section, currencies = config.providers, config.billing.currencies
    found: dict[str, Provider] = {}
    if section.stripe.enabled:
        found["stripe"] = StripeProvider(section.stripe, currencies, http)
    if section.btcpay.enabled:
        found["btcpay"] = BtcpayProvider(section.btcpay, http)
    if section.test.enabled:
        found["test"] = InstantProvider(config.web.link_secret.reveal())
    return found

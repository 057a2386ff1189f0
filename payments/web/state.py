"""What the web application holds: typed keys of ``web.Application``."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from payments.cards.desk import Desk
from payments.config import Config
from payments.money import Money
from payments.stores import Store
from payments.topup.providers import Provider
from payments.web.metrics import Metrics

MAX_BODY: Final = 64 * 1024  # webhooks and forms: larger bodies get 413

CONFIG: Final = web.AppKey("config", Config)
STORE: Final = web.AppKey("store", Store)
PROVIDERS: Final = web.AppKey("providers", dict[str, Provider])
METRICS: Final = web.AppKey("metrics", Metrics)
PRESETS: Final = web.AppKey("presets", list[Money])
CARDS: Final = web.AppKey("cards", Desk)  # saved cards: set only when Stripe is enabled

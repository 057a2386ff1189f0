"""The only code that talks to Redis: one small store per concept over one client."""

from __future__ import annotations

from pathlib import Path

from payments.accounts.freeze_store import FreezeStore
from payments.accounts.number_store import NumberStore
from payments.accounts.store import AccountStore
from payments.billing.store import BillingStore
from payments.cards.returns_store import CardReturnsStore
from payments.cards.store import CardStore
from payments.catalog.store import PackCatalog, PlanCatalog
from payments.config import Config
from payments.groups.store import GroupStore
from payments.keys import DEFAULT_SHARDS
from payments.ledger.archive import LedgerArchive
from payments.ledger.store import LedgerStore
from payments.moves.store import MoveStore
from payments.notifications.store import ChoiceStore
from payments.referrals.store import ReferralStore
from payments.store.bot_request import BotRequestStore
from payments.store.botstate import BotStateStore
from payments.store.code_attempts import CodeAttemptStore
from payments.store.connection import RedisClient, open_redis
from payments.store.currencies import Currencies
from payments.store.durability import Durability, DurabilityPolicy
from payments.store.locks import LockStore
from payments.store.outbox import OutboxStore
from payments.store.page_forms import PageFormStore
from payments.store.schedules import ScheduleStore
from payments.store.scripts import Scripts
from payments.store.shards import Shards
from payments.topup.store import PaymentsInStore
from payments.topup.voucher_store import VoucherStore
from payments.usage.credit_store import CreditStore
from payments.usage.store import UsageStore

__all__ = ["Store"]


class Store:
    """Every sub-store of one Redis client; build one per process."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        currency: str = "USD",
        shards: int = DEFAULT_SHARDS,
        durability: DurabilityPolicy | None = None,
        archive: LedgerArchive | None = None,
    ) -> None:
        self.redis = redis
        self.currency = currency  # the default currency: the first of [billing] currencies
        self.shards = sharded = Shards(shards)
        self.scripts = Scripts(redis)
        self.durability = Durability(redis, durability or DurabilityPolicy())
        self.currencies = Currencies(redis, currency)
        self.archive = archive  # the ledger's older months (None: only what Redis holds)
        self.ledger = LedgerStore(redis, self.scripts, self.currencies, archive)
        self.accounts = AccountStore(redis, self.scripts, sharded, currency)
        self.plans = PlanCatalog(redis, self.scripts, currency)
        self.packs = PackCatalog(redis, self.scripts, currency)
        self.outbox = OutboxStore(redis, self.scripts)
        self.billing = BillingStore(redis, self.scripts, self.currencies, sharded, archive)
        self.schedules = ScheduleStore(redis, self.scripts, sharded)
        self.freezes = FreezeStore(redis, self.scripts)
        self.groups = GroupStore(redis, self.scripts, self.currencies, sharded)
        self.numbers = NumberStore(redis, self.scripts)
        self.locks = LockStore(redis, self.scripts)
        self.payments_in = PaymentsInStore(redis, self.scripts, currency)
        self.vouchers = VoucherStore(redis, self.scripts, currency)
        self.code_attempts = CodeAttemptStore(redis)
        self.botstate = BotStateStore(redis)
        self.requests = BotRequestStore(self.scripts, currency)
        self.usage = UsageStore(redis, self.scripts, self.currencies, sharded)
        self.credits = CreditStore(redis, self.scripts, self.currencies, sharded)
        self.page_forms = PageFormStore(redis)
        self.cards = CardStore(redis, self.scripts, self.currencies, sharded)
        self.card_returns = CardReturnsStore(redis, self.scripts, self.currencies)
        self.choices = ChoiceStore(redis)
        self.referrals = ReferralStore(redis, self.scripts, self.currencies)
        self.moves = MoveStore(redis, self.scripts)

    @classmethod
    def from_url(cls, url: str, *, currency: str = "USD") -> Store:
        return cls(open_redis(url), currency=currency)

    @classmethod
    def for_config(cls, config: Config) -> Store:
        """The store of a process: its ``[redis]`` (URL, shards, durability), its default
        currency, its ledger archive."""
        settings = config.redis
        return cls(
            open_redis(settings.url),
            currency=config.billing.currency,
            shards=settings.shards,
            durability=DurabilityPolicy(settings.wait_replicas, settings.wait_timeout_ms),
            archive=LedgerArchive(Path(config.ledger.archive_dir)),
        )

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()

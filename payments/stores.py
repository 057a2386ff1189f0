"""The only code that talks to Redis: one small store per concept over one client."""

from __future__ import annotations

from redis.asyncio import Redis

from payments.accounts.freeze_store import FreezeStore
from payments.accounts.number_store import NumberStore
from payments.accounts.store import AccountStore
from payments.billing.store import BillingStore
from payments.catalog.store import PackCatalog, PlanCatalog
from payments.groups.store import GroupStore
from payments.ledger.store import LedgerStore
from payments.store.bot_request import BotRequestStore
from payments.store.botstate import BotStateStore
from payments.store.code_attempts import CodeAttemptStore
from payments.store.connection import open_redis
from payments.store.locks import LockStore
from payments.store.outbox import OutboxStore
from payments.store.page_forms import PageFormStore
from payments.store.schedules import ScheduleStore
from payments.store.scripts import Scripts
from payments.topup.store import PaymentsInStore
from payments.topup.voucher_store import VoucherStore
from payments.usage.credit_store import CreditStore
from payments.usage.store import UsageStore

__all__ = ["Store"]


class Store:
    """Every sub-store of one Redis client; build one per process."""

    def __init__(self, redis: Redis, *, currency: str = "USD") -> None:
        self.redis = redis
        self.currency = currency
        self.scripts = Scripts(redis)
        self.ledger = LedgerStore(redis, self.scripts, currency)
        self.accounts = AccountStore(redis, self.scripts)
        self.plans = PlanCatalog(redis, self.scripts, currency)
        self.packs = PackCatalog(redis, self.scripts, currency)
        self.outbox = OutboxStore(redis, self.scripts)
        self.billing = BillingStore(redis, self.scripts, currency)
        self.schedules = ScheduleStore(redis)
        self.freezes = FreezeStore(redis, self.scripts)
        self.groups = GroupStore(redis, self.scripts, currency)
        self.numbers = NumberStore(redis, self.scripts)
        self.locks = LockStore(redis, self.scripts)
        self.payments_in = PaymentsInStore(redis, self.scripts, currency)
        self.vouchers = VoucherStore(redis, self.scripts, currency)
        self.code_attempts = CodeAttemptStore(redis)
        self.botstate = BotStateStore(redis)
        self.requests = BotRequestStore(redis, currency)
        self.usage = UsageStore(redis, self.scripts, currency)
        self.credits = CreditStore(redis, self.scripts, currency)
        self.page_forms = PageFormStore(redis)

    @classmethod
    def from_url(cls, url: str, *, currency: str = "USD") -> Store:
        return cls(open_redis(url), currency=currency)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()

"""The only code that talks to Redis: one small store per concept over one client."""

from __future__ import annotations

from redis.asyncio import Redis

from payments.store.accounts import AccountStore
from payments.store.billing import BillingStore
from payments.store.botstate import BotStateStore
from payments.store.connection import open_redis
from payments.store.credits import CreditStore
from payments.store.freezes import FreezeStore
from payments.store.groups import GroupStore
from payments.store.ledger import LedgerStore
from payments.store.locks import LockStore
from payments.store.numbers import NumberStore
from payments.store.outbox import OutboxStore
from payments.store.payments_in import PaymentsInStore
from payments.store.plans import PlanStore
from payments.store.scripts import Scripts
from payments.store.usage import UsageStore
from payments.store.vouchers import CodeAttemptStore, VoucherStore

__all__ = ["Store", "open_redis"]


class Store:
    """Every sub-store of one Redis client; build one per process."""

    def __init__(self, redis: Redis, *, currency: str = "USD") -> None:
        self.redis = redis
        self.currency = currency
        self.scripts = Scripts(redis)
        self.ledger = LedgerStore(redis, self.scripts, currency)
        self.accounts = AccountStore(redis, self.scripts)
        self.plans = PlanStore(redis, currency)
        self.outbox = OutboxStore(redis)
        self.billing = BillingStore(redis, self.scripts, currency)
        self.freezes = FreezeStore(redis, self.scripts)
        self.groups = GroupStore(redis, self.scripts, currency)
        self.numbers = NumberStore(redis, self.scripts)
        self.locks = LockStore(redis, self.scripts)
        self.payments_in = PaymentsInStore(redis, self.scripts, currency)
        self.vouchers = VoucherStore(redis, self.scripts, currency)
        self.code_attempts = CodeAttemptStore(redis)
        self.botstate = BotStateStore(redis)
        self.usage = UsageStore(redis, self.scripts, currency)
        self.credits = CreditStore(redis, self.scripts, currency)

    @classmethod
    def from_url(cls, url: str, *, currency: str = "USD") -> Store:
        return cls(open_redis(url), currency=currency)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()

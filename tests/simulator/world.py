"""The simulated world: accounts, a clock, providers that retry, and what was promised.

The world drives the product only through its domain functions (the same the
bot, the web service and the chores call) over a real redis-server, and
keeps, beside Redis, what the outside world knows: each payment a provider
completed (and whether its webhook was acknowledged), each usage event the
gateway sent and how it was answered. The oracle (``oracle.py``) holds the
books against that.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import BlockingConnectionPool

from payments import keys
from payments.billing.cycle import Cycle, default_policy
from payments.cards.desk import Desk
from payments.chores.registry import run_chores
from payments.chores.runner import ChoreReport, ChoreRun
from payments.config import (
    BillingConfig,
    CardsConfig,
    Config,
    LedgerConfig,
    OperatorsConfig,
    ReferralConfig,
    Secret,
    UsageConfig,
    WebConfig,
)
from payments.groups.flow import GroupFlow
from payments.ledger.archive import LedgerArchive
from payments.money import Money
from payments.stores import Store
from payments.usage.flow import Meter
from tests.simulator.cards import SimCards
from tests.simulator.faults import Conductor, SimRedis

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
DOMAIN = "sim.example"
PLANS = {"basic": 10, "pro": 25}  # whole dollars a month (CAD: a third more)
PACK = "sms100"
OPERATOR = "ops@sim.example"
CARDS = CardsConfig(
    retry_days=(1, 2), autotopup_cooldown=60, autotopup_monthly_cap=Money(2_000_000),
    autotopup_max_failures=2, poll_seconds=0,
)  # fmt: skip
# Fewer shards than a deployment's 16: each chore walks them all, and a history runs
# hundreds of chores; four are enough for two hosts to share them.
SHARDS = 4
CURRENCIES = ("USD", "CAD")
# A history spans a month or two: only the current month stays in Redis, so every month
# that ends goes to the archive while the history still runs.
KEEP_MONTHS = 0


def usd(whole: int) -> Money:
    return Money(whole * 10_000)


def priced(whole: int) -> list[Money]:
    """A price in each currency: $N and CA$(N + a third)."""
    return [Money.whole(whole, "USD"), Money(whole * 13_333 // 1000 * 1000, "CAD")]


@dataclass
class Payment:
    """A payment a provider completed: it retries its webhook until acknowledged."""

    ref: str
    jid: str
    amount: Money
    acknowledged: bool = False
    deliveries: int = 0
    refused: bool = False  # in another currency than its account's: refused, never credited


@dataclass
class UsageSent:
    event_id: str
    jid: str
    resource: str
    quantity: int
    at: datetime
    counted: int = 0  # times the gateway was told "counted"


@dataclass
class World:
    store: Store
    conductor: Conductor
    rng: random.Random
    now: datetime = T0
    jids: list[str] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    events: list[UsageSent] = field(default_factory=list)
    vouchers: list[str] = field(default_factory=list)
    counter: int = 0
    log: list[str] = field(default_factory=list)
    currencies: dict[str, str] = field(default_factory=dict)  # each funded account's, once seen
    moved: set[str] = field(default_factory=set)  # old JIDs of the moves asked for
    chores_current: bool = False  # this step was a `chore all` that ran alone to its end
    crashes: int = 0
    steps: int = 0
    cards: SimCards = field(default_factory=lambda: SimCards(random.Random(0), lambda: T0))
    dispute_lifted: set[str] = field(default_factory=set)  # operators lifted it in this step
    disputed: set[str] = field(default_factory=set)  # carried a dispute freeze last step

    @property
    def archive(self) -> LedgerArchive:
        if self.store.archive is None:
            raise RuntimeError("a world's store has an archive (the archive action needs it)")
        return self.store.archive

    @property
    def ledger(self) -> LedgerConfig:
        return LedgerConfig(keep_months=KEEP_MONTHS, archive_dir=str(self.archive.root))

    @property
    def policy(self) -> BillingConfig:
        """The deployment's rules, on a shorter calendar: a history sees whole lifecycles."""
        return replace(
            default_policy(*CURRENCIES), trial_days=10, grace_days=3, reminder_days=2,
            close_after_days=15, low_balance_days=3,
        )  # fmt: skip

    @property
    def usage(self) -> UsageConfig:
        return UsageConfig(trial_allowances={"sms": 5})

    @property
    def config(self) -> Config:
        """The whole config the card flows read (the billing rules as above)."""
        web = WebConfig(public_url="https://sim.example", link_secret=Secret("sim"))
        return Config(billing=self.policy, usage=self.usage, cards=CARDS, web=web,
                      operators=OperatorsConfig((OPERATOR,)))  # fmt: skip

    @property
    def referral(self) -> ReferralConfig:
        return ReferralConfig(trial_days=15, settle_days=3)

    def cycle(self, actor: str = "sim") -> Cycle:
        return Cycle(self.store, self.policy, actor)

    def desk(self, actor: str = "sim") -> Desk:
        return Desk(self.store, self.config, self.cards, actor)

    def groups(self, actor: str = "sim") -> GroupFlow:
        return GroupFlow(self.store, self.policy, actor)

    def meter(self, actor: str = "gateway") -> Meter:
        return Meter(self.store, self.usage, actor)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self) -> str:
        return self.rng.choice(self.jids)

    def say(self, line: str) -> None:
        self.log.append(f"[{self.steps}] {self.now:%Y-%m-%d %H:%M} {line}")

    async def chores(self, name: str = "all") -> list[ChoreReport]:
        run = ChoreRun(
            self.cycle("chore"),
            self.now,
            concurrency=1,
            usage=self.usage,
            cards=self.desk(),
            referral=self.referral,
            ledger=self.ledger,
        )
        return await run_chores(run, name)

    async def close(self) -> None:
        await self.store.close()
        shutil.rmtree(self.archive.root, ignore_errors=True)

    async def forget_locks(self) -> None:
        """A crashed process's locks expire (60 s for chores, 30 s for joins): at once here."""
        redis = self.store.redis
        async for key in redis.scan_iter(match=f"{keys.PREFIX}chore_lock-*"):
            await redis.delete(key)
        async for key in redis.scan_iter(match=f"{keys.PREFIX}group_lock-*"):
            await redis.delete(key)


async def open_world(redis_url: str, seed: int, accounts: int) -> World:
    """A world on one redis-server, every command through the conductor's gate."""
    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=64, timeout=10, decode_responses=True
    )
    redis = SimRedis.from_pool(pool)
    assert isinstance(redis, SimRedis)  # from_pool builds a cls but is typed as the base Redis
    await redis.flushdb()
    # Scripts outlive FLUSHDB: a history that found them loaded would send fewer commands
    # (no NOSCRIPT, no SCRIPT LOAD) than its replay alone, and crash elsewhere.
    await redis.script_flush()
    conductor = Conductor(random.Random(seed * 7919 + 1))
    redis.conductor = conductor
    archive = LedgerArchive(Path(tempfile.mkdtemp(prefix=f"sim-archive-{seed}-")))
    store = Store(redis, shards=SHARDS, archive=archive)
    return await new_world(store, conductor, seed, accounts)


async def new_world(store: Store, conductor: Conductor, seed: int, accounts: int) -> World:
    """A world over an empty store (a plain client, e.g. of a cluster: no crash, no race
    is then steered, but every action runs and the oracle holds the books)."""
    world = World(store, conductor, random.Random(seed))
    world.cards = SimCards(random.Random(seed * 31 + 7), lambda: world.now, world.say)
    world.jids = [f"u{i}@{DOMAIN}" for i in range(accounts)]
    for plan, price in PLANS.items():
        allowances = {"sms": 50, "voice_minutes": 100} if plan == "pro" else {"sms": 10}
        await world.store.plans.put(
            plan, at=T0 - timedelta(days=1), prices=priced(price), name=plan.title(),
            allowances=allowances,
        )  # fmt: skip
    await world.store.packs.put(
        PACK, at=T0 - timedelta(days=1), resource="sms", quantity=100, prices=priced(3)
    )
    return world

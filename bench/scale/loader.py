"""The bulk loader: the accounts of the mix (``mix.py``), written as the domain flows would.

Every account change is the flows' own Lua function, called with the keys and arguments
the store would give it (``register``, ``credit``, ``activate``, ``renew`` in its 'due'
way, the join's ``group_move`` ... ``group_move_drop``), queued a batch of accounts at
a time in one pipeline instead of one round trip each; the schedules and registries
get the same entries (pipelined by shard). What is rare goes through the flows
themselves: the freeze of the frozen accounts (``freezes.freeze_unpaid``), the expiry
schedule of granted credits (``credits.schedule_grants``).

Not written: the notices (``bot-outbox``): a running bot drains them, and their dedupe
keys expire in 30 days. ``tests/bench/test_scale_loader.py`` builds a sample of each
kind both ways and compares every other key, its type and its contents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from bench.scale.mix import (
    ALLOWANCE,
    JOIN_DELAY,
    PACK,
    PACK_PRICE,
    PACK_QUANTITY,
    PLAN,
    PLAN_PRICE,
    Kind,
    Unit,
)
from payments import keys
from payments.accounts.records import TRIAL_PLAN, FreezeKind, FreezeRecord, trial_end
from payments.accounts.store import REOPENED_WHY
from payments.billing import freezes
from payments.billing.cycle import Cycle
from payments.billing.rules import renewal_day_of
from payments.catalog.records import Plan
from payments.clock import epoch, from_epoch, month_of
from payments.config import UsageConfig
from payments.groups.rules import Move, MoveOp, join_price, join_ref
from payments.ledger.records import Balance, EntryKind, ref_key
from payments.money import Money
from payments.stores import Store
from payments.usage.credits import AutoBuy

PAYER: Final = "provider:test"  # the actor of the payments and what follows them
RENEWER: Final = "chore:renew"  # the frozen accounts' April renewal
FREEZER: Final = "chore:freeze"
JOINER: Final = "bot"  # the actor of the joins (the bot's group commands)
AUTOBUY_LEAD: Final = timedelta(minutes=30)  # autobuy turned on before the payment
GRACE_LEFT: Final = timedelta(days=8)  # after a failed renewal: the freeze chore's look
CONCURRENCY: Final = 32  # the few flows run as they are, this many accounts at once


async def put_catalog(store: Store, at: datetime) -> None:
    """The plan and the pack of the mix (what ``admin plan set`` / ``admin pack set`` write)."""
    await store.plans.put(PLAN, at=at, price=Money(PLAN_PRICE), name="Basic", allowances=ALLOWANCE)
    await store.packs.put(
        PACK, at=at, resource="sms", quantity=PACK_QUANTITY, price=Money(PACK_PRICE)
    )


class Loader:
    """Writes units a batch at a time; ``load`` is the whole of one batch."""

    def __init__(self, cycle: Cycle, usage: UsageConfig | None = None) -> None:
        self.cycle = cycle
        self.store = cycle.store
        self.usage = usage or UsageConfig()

    async def load(self, units: Sequence[Unit]) -> None:
        payers = [u for u in units if u.kind is not Kind.TRIAL]
        await self.register(units)
        await self.autobuy([u for u in units if u.kind is Kind.PACK])
        await self.pay(payers)
        following = await self.activate(payers)
        await self.join([u for u in units if u.kind is Kind.MAIN], following)
        await self.schedule_grants([u for u in units if u.kind is Kind.PACK])
        await self.freeze([u for u in units if u.kind is Kind.FROZEN])

    # --- registration (AccountStore.register_trial) -----------------------------------

    async def register(self, units: Sequence[Unit]) -> None:
        days = self.cycle.policy.trial_days
        await self._by_shard("sadd", keys.ACCOUNTS, {u.jid: 0 for u in units})
        ends = {u.jid: epoch(trial_end(u.registered, days)) for u in units}
        await self._by_shard("zadd_lt", keys.TRIAL_ENDS, ends)
        await self._calls("register", [self._register_call(u.jid, u.registered) for u in units])

    def _register_call(self, jid: str, at: datetime) -> tuple[list[str], list[Any]]:
        yyyymm, ends = month_of(at), trial_end(at, self.cycle.policy.trial_days)
        reopened = FreezeRecord(FreezeKind.BILLING, "register", at, REOPENED_WHY)
        args = [at.isoformat(), ends.isoformat(), yyyymm, TRIAL_PLAN, reopened.encode()]
        account_keys = [keys.account(jid), keys.plan_as_of(jid, yyyymm), keys.freezes(jid)]
        return account_keys, [*args, self.store.currency]

    # --- autobuy on (usage.flow.set_autobuy) -----------------------------------------

    async def autobuy(self, units: Sequence[Unit]) -> None:
        pack = await self.store.packs.get(PACK)
        assert pack is not None, "put_catalog first"
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for unit in units:
                since = unit.registered + AUTOBUY_LEAD
                wanted = AutoBuy.of(pack, since, self.usage.credit_days)
                pipe.hsetnx(keys.autobuy(unit.jid), PACK, wanted.encode())
            await pipe.execute()

    # --- the payment (ledger credit.lua) -------------------------------------------

    async def pay(self, units: Sequence[Unit]) -> None:
        replies = await self._calls("credit", [self._credit_call(u) for u in units])
        _expect(replies, lambda r: int(r[0]) == 1, "credit")

    def _credit_call(self, unit: Unit) -> tuple[list[str], list[Any]]:
        jid = unit.jid
        account_keys = [
            keys.balance_prepaid(jid), keys.transactions(jid), keys.idempotency(jid),
            keys.account(jid), keys.idempotency_archived(jid),
        ]  # fmt: skip
        args = [
            unit.payment, Balance.PREPAID.value, EntryKind.PAYMENT.value, "top-up",
            payment_ref(jid), unit.at.isoformat(), PAYER, self.store.currency,
            self.store.currency, ref_key(payment_ref(jid)),
        ]  # fmt: skip
        return account_keys, args

    # --- activation and its first renewal (billing.activation.activate_if_due) -------

    async def activate(self, units: Sequence[Unit]) -> dict[str, datetime]:
        """Activated and renewed once (twice for the frozen, March then April): each
        JID's next renewal."""
        if not units:
            return {}
        plan = await self.store.plans.get_in(PLAN, self.store.currency)
        assert plan is not None, "put_catalog first"
        await self._by_shard("zadd_lt", keys.RENEWALS, {u.jid: epoch(u.at) for u in units})
        replies = await self._calls("activate", [self._activate_call(u, plan) for u in units])
        _expect(replies, lambda r: int(r[0]) == 1, "activate")
        await self._by_shard("zrem", keys.TRIAL_ENDS, {u.jid: 0 for u in units})
        following = await self.renew([(u.jid, u.at) for u in units], PAYER)
        frozen = [(u.jid, following[u.jid]) for u in units if u.kind is Kind.FROZEN]
        return following | await self.renew(frozen, RENEWER)

    def _activate_call(self, unit: Unit, plan: Plan) -> tuple[list[str], list[Any]]:
        jid, at, yyyymm = unit.jid, unit.at, month_of(unit.at)
        activation = self.cycle.policy.activation_amount
        account_keys = [
            keys.account(jid), keys.plan_as_of(jid, yyyymm), keys.balance_prepaid(jid),
            keys.freezes(jid), keys.invoices_open(jid),
        ]  # fmt: skip
        args = [
            at.isoformat(), yyyymm, plan.id, plan.version, plan.price.units,
            renewal_day_of(at), activation.units, epoch(at), plan.price.currency,
            self.store.currency,
        ]  # fmt: skip
        return account_keys, args

    async def renew(self, due: Sequence[tuple[str, datetime]], actor: str) -> dict[str, datetime]:
        """``renew.lua`` as the renew chore's fast path calls it, each account at its own
        instant (BillingStore.renew_due, which takes one instant for a batch); the unpaid
        entries first, the next renewal after."""
        if not due:
            return {}
        await self._by_shard("zadd_lt", keys.UNPAID, {jid: epoch(at) for jid, at in due})
        replies = await self._calls("renew", [_renew_due_call(jid, at, actor) for jid, at in due])
        _expect(replies, lambda r: int(r[0]) == 1, "renew")
        following = {jid: from_epoch(int(r[3])) for (jid, _), r in zip(due, replies, strict=True)}
        await self.store.schedules.add_many(keys.RENEWALS, list(following.items()))
        return following

    # --- a main's leaves (groups.flow.join of a new JID) --------------------------------

    async def join(self, mains: Sequence[Unit], following: dict[str, datetime]) -> None:
        if not mains:
            return
        plan = await self.store.plans.get_in(PLAN, self.store.currency)
        assert plan is not None, "put_catalog first"
        indexes = await self._groups(mains)
        async with self.store.scripts.pipeline() as batch:
            for main, index in zip(mains, indexes, strict=True):
                for number, leaf in enumerate(main.leaves, 1):
                    at = main.at + JOIN_DELAY * number
                    price = join_price(plan.price, at, following[main.jid], renewal_day_of(main.at))
                    move = Move(
                        MoveOp.JOIN, main.jid, index, at, ref=join_ref(price.period, leaf),
                        amount=price.amount, plan=plan.id, version=plan.version,
                        price=plan.price, paid_until=price.paid_until,
                    )  # fmt: skip
                    _queue_join(batch, self.store, leaf, move)
            _expect_joins(await batch.execute())

    async def _groups(self, mains: Sequence[Unit]) -> list[str]:
        """GroupStore.create of each main: the counter, then the index and the list."""
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for _ in mains:
                pipe.incr(keys.LEAF_GROUPS)
            indexes = [str(i) for i in await pipe.execute()]
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for main, index in zip(mains, indexes, strict=True):
                pipe.set(keys.leaf_jids_index(main.jid), index, nx=True)
                pipe.rpush(keys.leaf_jids(index), main.jid)
            await pipe.execute()
        return indexes

    # --- what goes through the flows themselves ----------------------------------------

    async def schedule_grants(self, units: Sequence[Unit]) -> None:
        await self._each(units, lambda u: self.store.credits.schedule_grants(u.jid))

    async def freeze(self, units: Sequence[Unit]) -> None:
        """The freeze chore's look at each, once its grace is over: after its April
        renewal (March has 31 days: the same day and time in April) left it owing."""
        freezer = replace(self.cycle, actor=FREEZER)

        async def one(unit: Unit) -> None:
            renewed = unit.at + timedelta(days=31)
            froze = await freezes.freeze_unpaid(freezer, unit.jid, renewed + GRACE_LEFT)
            assert froze is freezes.Froze.FROZEN, f"{unit.jid}: {froze}"

        await self._each(units, one)

    # --- plumbing -----------------------------------------------------------------------

    async def _each(self, units: Sequence[Unit], work: Any) -> None:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(unit: Unit) -> None:
            async with limit:
                await work(unit)

        await asyncio.gather(*map(one, units))

    async def _calls(self, name: str, calls: Iterable[tuple[list[str], list[Any]]]) -> list[Any]:
        async with self.store.scripts.pipeline() as batch:
            for call_keys, args in calls:
                batch.call(name, call_keys, args)
            return await batch.execute()

    async def _by_shard(self, command: str, schedule: str, scores: dict[str, int]) -> None:
        """One command per shard: SADD of the members, ZADD (LT) or ZREM."""
        shards = self.store.shards
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for number, jids in shards.split(scores).items():
                key = keys.shard(schedule, number)
                if command == "sadd":
                    pipe.sadd(key, *jids)
                elif command == "zrem":
                    pipe.zrem(key, *jids)
                else:
                    pipe.zadd(key, {j: scores[j] for j in jids}, lt=True)
            await pipe.execute()


def payment_ref(jid: str) -> str:
    """The idempotency key of the activating payment (a test provider's payment id)."""
    return f"test:test_{jid.split('@')[0]}"


def _renew_due_call(jid: str, at: datetime, actor: str) -> tuple[list[str], list[Any]]:
    period = month_of(at)
    renew_keys = [
        keys.account(jid), keys.freezes(jid), keys.balance_voucher(jid),
        keys.balance_prepaid(jid), keys.transactions(jid), keys.idempotency(jid),
        keys.invoice(jid, period), keys.invoices(jid), keys.invoices_open(jid),
        keys.plan_as_of(jid, period), keys.autobuy(jid), keys.credit_grants(jid),
        keys.plan_as_of(jid, period), keys.leaf_jids_index(jid),
    ]  # fmt: skip
    return renew_keys, ["due", at.isoformat(), epoch(at), actor, period]


def _queue_join(batch: Any, store: Store, leaf: str, move: Move) -> None:
    """The steps of ``groups.flow.complete_join`` for a new JID, in order on one node:
    the move recorded, the main charged, the leaf's side, the list, the move dropped."""
    main, index, at, currency = move.main, move.index, move.at, store.currency
    assert move.amount is not None
    assert move.price is not None
    assert move.paid_until is not None
    fields = [part for pair in move.fields().items() for part in pair]
    batch.call(
        "group_move",
        [
            keys.group_move(leaf), keys.leaf_jids_index(leaf), keys.account(leaf),
            keys.balance_prepaid(leaf), keys.balance_voucher(leaf),
        ],
        [move.op.value, main, index, "1", *fields],
    )  # fmt: skip
    reason = f"{move.plan} for {leaf}, joined (pro-rated to {move.paid_until.date()})"
    batch.call(
        "group_charge",
        [
            keys.balance_voucher(main), keys.balance_prepaid(main), keys.transactions(main),
            keys.idempotency(main), keys.group_joins(main), keys.account(main),
        ],
        [move.amount.units, move.ref, reason, at.isoformat(), JOINER, leaf, currency, currency],
    )  # fmt: skip
    batch.pipe.sadd(store.shards.key(keys.ACCOUNTS, leaf), leaf)
    yyyymm = month_of(at)
    batch.call(
        "join_group",
        [
            keys.account(leaf), keys.leaf_jids_index(leaf), keys.plan_as_of(leaf, yyyymm),
            keys.balance_prepaid(leaf), keys.balance_voucher(leaf), keys.transactions(leaf),
        ],
        [
            index, main, at.isoformat(), yyyymm, move.plan, move.version, move.price.units,
            currency, currency,
        ],
    )  # fmt: skip
    batch.call("group_add", [keys.leaf_jids(index)], [main, leaf])
    batch.call("group_move_drop", [keys.group_move(leaf)], [move.op.value, main, index])
    batch.pipe.srem(keys.group_joins(main), leaf)


def _expect(replies: Sequence[Any], good: Any, what: str) -> None:
    bad = [r for r in replies if not good(r)]
    if bad:
        raise RuntimeError(f"{what}: {len(bad)} of {len(replies)} refused, e.g. {bad[0]!r}")


def _expect_joins(replies: Sequence[Any]) -> None:
    """Seven replies a leaf: recorded (1), charged (1), -, joined (1), listed (1), -, -."""
    for start in range(0, len(replies), 7):
        step = replies[start : start + 7]
        if [int(step[0]), int(step[1][0]), int(step[3]), int(step[4])] != [1, 1, 1, 1]:
            raise RuntimeError(f"a join was refused: {step!r}")

"""The million-account run's bulk loader writes what the domain flows write.

A sample of every kind of the mix (``bench/scale/mix.py``) is built twice on a real
redis-server: through the flows (registration, the payment and what follows it, autobuy,
the renew and freeze chores' steps, joins) and through the loader; every key but the
notices (which the loader leaves out) must be the same, of the same type, with the same
contents (stream ids, the ledger ids they index and group numbers aside), and the books
must balance. A change of the layout that the loader does not follow fails here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bench.scale.loader import (
    FREEZER,
    GRACE_LEFT,
    JOINER,
    PAYER,
    RENEWER,
    Loader,
    payment_ref,
    put_catalog,
)
from bench.scale.mix import JOIN_DELAY, MARCH, PACK, Kind, Unit, units
from payments.billing.cycle import Cycle, default_policy
from payments.billing.freezes import Froze, freeze_unpaid
from payments.billing.payment import credit_account
from payments.billing.renewal import renew_account
from payments.config import UsageConfig
from payments.groups.flow import GroupFlow, join
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.usage.flow import Meter, set_autobuy

POLICY = default_policy("USD")
STREAM_ID = re.compile(r"^\d{13}-\d+$")


def sample() -> list[Unit]:
    """The first units of each kind (mains with 1, 2 and 3 leaves)."""
    picked: list[Unit] = []
    for unit in units(400):
        same = [u for u in picked if u.kind is unit.kind]
        if len(same) < (3 if unit.kind is Kind.MAIN else 2):
            picked.append(unit)
    return picked


async def through_the_flows(store: Store, unit: Unit) -> None:
    await store.accounts.register_trial(unit.jid, unit.registered, POLICY.trial_days)
    if unit.kind is Kind.TRIAL:
        return
    if unit.kind is Kind.PACK:
        meter = Meter(store, UsageConfig())
        await set_autobuy(meter, unit.jid, PACK, True, unit.registered + timedelta(minutes=30))
    await credit_account(
        store, unit.jid, Money(unit.payment), reason="top-up", kind=EntryKind.PAYMENT,
        ref=payment_ref(unit.jid), actor=PAYER, at=unit.at, policy=POLICY,
    )  # fmt: skip
    if unit.kind is Kind.FROZEN:
        april = unit.at + timedelta(days=31)
        await renew_account(Cycle(store, POLICY, RENEWER), unit.jid, april)
        froze = await freeze_unpaid(Cycle(store, POLICY, FREEZER), unit.jid, april + GRACE_LEFT)
        assert froze is Froze.FROZEN
    flow = GroupFlow(store, POLICY, JOINER)
    for number, leaf in enumerate(unit.leaves, 1):
        await join(flow, unit.jid, leaf, unit.at + JOIN_DELAY * number, new=True)


async def dump(store: Store) -> dict[str, Any]:
    """Every key (but the notices) with its type and contents, made comparable."""
    found: dict[str, Any] = {}
    async for key in store.redis.scan_iter(count=1000):
        if not key.startswith("bot-outbox"):
            found[_same_index(key)] = (await store.redis.type(key), await _contents(store, key))
    return found


def _same_index(text: str) -> str:
    return re.sub(r"payment-leaf_jids-\{\d+\}", "payment-leaf_jids-{N}", text)


def _plain(value: str) -> str:
    return "ID" if STREAM_ID.match(value) else value


async def _contents(store: Store, key: str) -> Any:
    redis, kind = store.redis, await store.redis.type(key)
    ttl = await redis.ttl(key) > 0
    if kind == "hash":
        fields: Any = await redis.hgetall(key)
        if key.startswith("payment-leaf_jids_index") or key.startswith("payment-group_move"):
            fields = {f: "N" if f == "index" else v for f, v in fields.items()}
        return ttl, {f: _plain(v) for f, v in fields.items()}
    if kind == "stream":
        entries: Any = await redis.xrange(key)
        return ttl, [fields for _, fields in entries]
    if kind == "set":
        return ttl, sorted(await redis.smembers(key))
    if kind == "zset":
        return ttl, await redis.zrange(key, 0, -1, withscores=True)
    if kind == "list":
        return ttl, await redis.lrange(key, 0, -1)
    value = await redis.get(key)
    return ttl, "N" if key.startswith("payment-leaf_jids_index") else value


async def test_the_loader_writes_what_the_flows_write(real_store: Store) -> None:
    picked = sample()
    assert {u.kind for u in picked} == set(Kind)
    await put_catalog(real_store, MARCH - timedelta(days=1))
    for unit in picked:
        await through_the_flows(real_store, unit)
    by_flows = await dump(real_store)
    await real_store.redis.flushdb()

    await put_catalog(real_store, MARCH - timedelta(days=1))
    await Loader(Cycle(real_store, POLICY, PAYER)).load(picked)
    by_loader = await dump(real_store)

    assert sorted(by_loader) == sorted(by_flows)
    for key, value in by_flows.items():
        assert by_loader[key] == value, key
    for unit in picked:
        for jid in (unit.jid, *unit.leaves):
            assert await real_store.ledger.check(jid) == [], jid


async def test_the_mix_counts_every_account_once() -> None:
    made = list(units(10_000))
    jids = [j for u in made for j in (u.jid, *u.leaves)]
    assert len(jids) == len(set(jids)) == 10_000
    share = {k: sum(u.accounts for u in made if u.kind is k) / 10_000 for k in Kind}
    assert round(share[Kind.PAID], 2) == 0.40
    assert round(share[Kind.TRIAL], 2) == 0.15
    assert round(share[Kind.MAIN], 2) == 0.30  # mains and their leaves

"""The card work's schedule and the automatic top-up set are split into shards like the
chores' schedules: the run of the ``cards`` chore that holds shard k does the card work
of the accounts of shard k (two hosts share the shards), the web service's worker walks
every shard, and the repair moves a deployment's unsharded entries into the shards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from payments import keys
from payments.billing.cycle import Cycle
from payments.cards.work import work_due
from payments.chores.registry import run_chores
from payments.chores.runner import ChoreReport, ChoreRun
from payments.clock import epoch, utcnow
from payments.stores import Store
from tests.support.billing import usd
from tests.support.cards import CardSite, card_site, paid_due, registered

ALICE, BOB = "alice@example.org", "bob@example.org"
VISA = "4242424242424242"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[CardSite]:
    async with card_site(redis_url, real_store) as found:
        yield found


async def cards_run(site: CardSite, host: str) -> ChoreReport:
    """``accountbot chore cards`` as one host runs it."""
    cycle = Cycle(site.store, site.config.billing, f"chore:{host}")
    run = ChoreRun(cycle, utcnow(), cards=site.desk)
    (report,) = await run_chores(run, "cards")
    return report


async def test_the_card_work_of_shard_k_is_done_by_the_run_that_holds_shard_k(
    site: CardSite,
) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    await paid_due(store, ALICE, now)
    await site.save(ALICE, VISA)
    await site.chores(now, "renew")  # the invoice stays open: its card work is due
    k, shards = store.shards.of(ALICE), range(store.shards.count)
    assert await store.cards.due(now, 10, k) == [(ALICE, now)]
    assert [s for s in shards if await store.cards.due(now, 10, s)] == [k]
    host_a = store.locks.chore("cards", shard=k)
    assert await host_a.acquire()  # host A is on shard k
    report = await cards_run(site, "b")
    assert set(report.skipped) == {k} and report.shards == len(shards) - 1
    assert await store.billing.owed(ALICE) == usd("10")  # not host B's shard
    assert await host_a.release()
    host_b = [store.locks.chore("cards", shard=s) for s in shards if s != k]
    assert all([await lock.acquire() for lock in host_b])  # host B is on every other
    report = await cards_run(site, "a")
    assert set(report.skipped) == set(shards) - {k} and report.shards == 1
    assert await store.billing.owed(ALICE) == usd("0")
    assert await store.cards.due(now + timedelta(days=40), 10, k) == []


async def test_the_web_services_worker_walks_every_shard(site: CardSite) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    assert store.shards.of(ALICE) != store.shards.of(BOB)
    for jid in (ALICE, BOB):
        await registered(store, jid, now - timedelta(days=1))
    await store.cards.schedule_many([ALICE, BOB], now)
    assert await work_due(site.desk, now) == 2  # nothing to do on either: both dropped
    for jid in (ALICE, BOB):
        assert await store.cards.due(now, 10, store.shards.of(jid)) == []


async def test_automatic_top_up_is_kept_in_the_shard_of_its_account(site: CardSite) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    for jid in (ALICE, BOB):
        await registered(store, jid, now - timedelta(days=1))
        await store.cards.set_autotopup(jid, usd("10"), usd("5"))
    for jid in (ALICE, BOB):
        assert await store.cards.autotopup_holders(store.shards.of(jid)) == [jid]
    await store.cards.watch_spending([BOB, ALICE], now)  # both below 5: both due
    assert await store.cards.due(now, 10, store.shards.of(ALICE)) == [(ALICE, now)]
    assert await store.cards.due(now, 10, store.shards.of(BOB)) == [(BOB, now)]
    await store.cards.clear_autotopup(ALICE)
    assert await store.cards.autotopup_holders(store.shards.of(ALICE)) == []
    assert not await store.redis.exists(keys.CARD_DUE, keys.AUTOTOPUPS)


async def test_repair_moves_unsharded_card_work_and_automatic_top_ups_into_shards(
    site: CardSite,
) -> None:
    store, now = site.store, utcnow().replace(microsecond=0)
    await registered(store, ALICE, now - timedelta(days=1))
    await store.cards.set_autotopup(ALICE, usd("10"), usd("5"))
    await store.redis.srem(store.shards.key(keys.AUTOTOPUPS, ALICE), ALICE)
    earlier = now - timedelta(hours=2)
    await store.redis.zadd(keys.CARD_DUE, {ALICE: epoch(earlier)})  # a version before shards
    await store.redis.sadd(keys.AUTOTOPUPS, ALICE)
    await store.cards.schedule(ALICE, now)  # and a later one already in its shard
    (report,) = await site.chores(now, "repair")
    assert report.counts["unsharded card_due"] == 1
    assert report.counts["unsharded autotopups"] == 1
    assert not await store.redis.exists(keys.CARD_DUE, keys.AUTOTOPUPS)
    k = store.shards.of(ALICE)
    assert await store.cards.due(now, 10, k) == [(ALICE, earlier)]  # the earliest kept
    assert await store.cards.autotopup_holders(k) == [ALICE]
    assert await store.schedules.unsharded() == []

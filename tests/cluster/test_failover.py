"""A master of the cluster is killed (SIGKILL) while the renew chore bills a few hundred
accounts and webhooks keep coming: its replica takes over, the next run of the chore
finishes without charging anyone twice, every webhook answered 2xx is in the books,
and once the lost node is back (a replica now) the providers' retries of the others
credit each payment once, and reconcile passes.

The cluster is this test's own (it kills a node of it). The web service runs in the
test's process on the cluster with its default durability (one replica), the chore
as ``accountbot chore renew`` processes, as operators run them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import RedisCluster

from accountbot.stack import LocalCluster, Stack
from payments import keys
from payments.store.connection import open_redis
from payments.stores import Store
from payments.web.app import build_app
from tests.support.billing import RENEWAL_DUE, T0, charged_once, many_due_accounts
from tests.support.cluster import cluster_config, still_due
from tests.support.waits import eventually
from tests.support.webfakes import make_config, serve, stripe_event, stripe_headers

ACCOUNTS, PAYERS = 400, 40
NOWHERE = "http://127.0.0.1:9"  # Stripe's API: a webhook never calls it


@dataclass
class Webhooks:
    """A provider sending payments one after another, noting how each was answered."""

    base: str
    answered: dict[str, int] = field(default_factory=dict)  # ref -> HTTP status (0: no answer)
    sent: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # ref -> (jid, body)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def stream(self) -> None:
        rng = random.Random(13)
        async with aiohttp.ClientSession() as http:
            while not self.stop.is_set():
                await self.deliver(http, f"cs_fo_{len(self.sent)}", f"payer{rng.randrange(PAYERS)}")

    async def deliver(self, http: aiohttp.ClientSession, session: str, who: str) -> None:
        jid = f"{who}@example.org"
        body = json.dumps(stripe_event(jid, 500, session_id=session)).encode()
        self.sent[f"stripe:{session}"] = (jid, body)
        await self.post(http, f"stripe:{session}")

    async def post(self, http: aiohttp.ClientSession, ref: str) -> None:
        _jid, body = self.sent[ref]
        try:
            async with http.post(
                f"{self.base}/webhooks/stripe", data=body, headers=stripe_headers(body)
            ) as response:
                self.answered[ref] = response.status
        except aiohttp.ClientError:
            self.answered[ref] = 0

    def acknowledged(self) -> list[str]:
        return [ref for ref, status in self.answered.items() if 200 <= status < 300]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    own = LocalCluster(tmp_path / "cluster")
    try:
        own.start()
        yield own
    finally:
        own.stop()


def renew(config: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "accountbot", "--config", str(config), "chore", "renew"]
    argv += ["--now", RENEWAL_DUE.isoformat(), "--concurrency", "4"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def master_with_most(cluster: LocalCluster, redis: RedisCluster, jids: list[str]) -> int:
    """The port of the master holding the slots of most of ``jids``."""
    ports = [int(n.port) for j in jids if (n := redis.get_node_from_key(keys.account(j)))]
    return max(set(ports), key=ports.count)


@pytest.mark.slow
async def test_a_master_killed_mid_renewal_and_mid_webhooks_loses_no_money(
    cluster: LocalCluster, redis_stack: Stack, tmp_path: Path
) -> None:
    config = cluster_config(redis_stack, cluster, tmp_path / "cluster.toml")
    store = Store(open_redis(cluster.url))
    try:
        jids = await many_due_accounts(store, ACCOUNTS, groups=10)
        for i in range(PAYERS):
            await store.accounts.register_trial(f"payer{i}@example.org", T0, 30)
        app = build_app(make_config(cluster.url, NOWHERE, stripe_base=NOWHERE))
        async with serve(app) as base:
            webhooks = Webhooks(base)
            stream = asyncio.create_task(webhooks.stream())
            first = renew(config)

            async def mid_renewal() -> bool:
                left = await still_due(store)
                return first.poll() is not None or left <= ACCOUNTS * 3 // 4

            await eventually(mid_renewal, "the chore renewing its first accounts", timeout=60)
            assert first.poll() is None, "the chore ended before the kill: too few accounts"
            assert isinstance(store.redis, RedisCluster)
            victim = cluster.node(master_with_most(cluster, store.redis, jids))
            assert victim.child is not None
            os.kill(victim.child.pid, signal.SIGKILL)
            answered_before = len(webhooks.answered)
            await asyncio.to_thread(cluster.wait_healthy, 2, 60.0)  # the replica took over

            async def acknowledged_again() -> bool:
                fresh = list(webhooks.answered.values())[answered_before:]
                return fresh.count(200) >= 20  # the web service serves on the new master

            await eventually(acknowledged_again, "webhooks answered after the failover", 60)
            webhooks.stop.set()
            await stream
            out, _ = await asyncio.to_thread(first.communicate, timeout=120)
            again, _ = await asyncio.to_thread(renew(config).communicate, timeout=120)
            assert "0 errors" in again.splitlines()[-1], (out, again)
            assert await still_due(store) == 0

            acknowledged = webhooks.acknowledged()
            await books_hold_every_acknowledged(store, webhooks, acknowledged)
            # Until the lost node is back (as the replica of its successor), money on the
            # slots it served cannot be on a replica: those webhooks got 503.
            await asyncio.to_thread(cluster.revive, victim)
            async with aiohttp.ClientSession() as http:  # the providers retry the others
                for ref in [r for r in webhooks.sent if r not in acknowledged]:
                    await webhooks.post(http, ref)
            assert set(webhooks.acknowledged()) == set(webhooks.sent)
            await books_hold_every_acknowledged(store, webhooks, list(webhooks.sent))
        await charged_once(store, jids, "202602")
    finally:
        await store.close()
    reconcile = subprocess.run(
        [sys.executable, "-m", "accountbot", "--config", str(config), "admin", "reconcile"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reconcile.returncode == 0 and " 0 mismatches" in reconcile.stdout, reconcile.stdout
    assert len(webhooks.sent) > len(acknowledged) >= 20  # some failed, most went through


async def books_hold_every_acknowledged(store: Store, hooks: Webhooks, refs: list[str]) -> None:
    """Each payment answered 2xx is credited, once; each payer's books add up."""
    payers = {hooks.sent[ref][0] for ref in refs}
    credited = {jid: [e.ref for e in await store.ledger.entries(jid)] for jid in payers}
    for ref in refs:
        assert credited[hooks.sent[ref][0]].count(ref) == 1, ref
    for jid in payers:
        assert await store.ledger.check(jid) == [], jid

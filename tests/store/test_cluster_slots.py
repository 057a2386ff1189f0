"""Every function (``lua/*.lua``) and every transaction of the store, run on a real Redis
Cluster: a call whose keys are in two hash slots fails there (redis-py refuses it
before sending, Redis answers CROSSSLOT), so a test that runs them all finds any.

Most calls come from a seeded simulator history (users, providers, the gateway,
operators, chores) played on the cluster with the oracle after every step; the
steps a history rarely takes are called one by one after it. The list of what
must run is read from the source (every ``lua/`` file, every function that opens
a ``pipeline(transaction=True)``): a new one is covered here, or this test fails.
"""

from __future__ import annotations

import ast
import random
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

from accountbot.stack import LocalCluster
from payments import keys
from payments.accounts.records import FreezeKind, FreezeRecord
from payments.cards.records import Card, ChargeRequest, Dispute, DisputeStatus, InFlight, Purpose
from payments.cards.store import Claim, Credited
from payments.chores.archive import Archiving, archive_account
from payments.groups import flow as groups
from payments.groups.rules import CodeUse
from payments.ledger.archive import LedgerArchive
from payments.money import Money
from payments.notices import Notice, NoticeKind
from payments.store import scripts as scripts_module
from payments.store.connection import open_redis
from payments.stores import Store
from payments.topup.checkout import PendingPayment
from payments.usage.store import Transfer
from tests.simulator.faults import Conductor
from tests.simulator.run import play
from tests.simulator.world import T0, new_world
from tests.support import ROOT
from tests.support.billing import days
from tests.support.groups import JOINED_AT, LEAF, MAIN, flow_of, main_and_trial

A, B = "alice@example.org", "bob@example.org"
SEED, STEPS = 3, 400  # enough for most steps; RARE_STEPS calls the rest
CROSSING = r"slot|CROSSSLOT"  # redis-py's words, or the server's


def transactions_in_source() -> set[str]:
    """``Class.method`` of every function of payments/ that opens a MULTI pipeline."""
    found = set()
    for path in (ROOT / "payments").rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            for fn in [n for n in cls.body if isinstance(n, ast.AsyncFunctionDef)]:
                if "pipeline(transaction=True)" in ast.unparse(fn):
                    found.add(f"{cls.name}.{fn.name}")
    return found


class Recorder:
    """Which functions and which MULTI pipelines ran (patched into the classes)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.functions: set[str] = set()
        self.transactions: set[str] = set()
        call, queue = scripts_module.Scripts.call, scripts_module.ScriptPipeline.call
        pipeline = RedisCluster.pipeline

        async def recorded_call(scripts: Any, name: str, *args: Any) -> Any:
            self.functions.add(name)
            return await call(scripts, name, *args)

        def recorded_queue(batch: Any, name: str, *args: Any) -> None:
            self.functions.add(name)
            queue(batch, name, *args)

        def recorded_pipeline(client: Any, transaction: Any = None, shard_hint: Any = None) -> Any:
            if transaction:
                self.transactions.add(sys._getframe(1).f_code.co_qualname)
            return pipeline(client, transaction, shard_hint)

        monkeypatch.setattr(scripts_module.Scripts, "call", recorded_call)
        monkeypatch.setattr(scripts_module.ScriptPipeline, "call", recorded_queue)
        monkeypatch.setattr(RedisCluster, "pipeline", recorded_pipeline)


@pytest.fixture
async def cluster_store(redis_cluster: LocalCluster) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_cluster.url))
    await store.redis.flushdb()
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.slow
async def test_every_function_and_transaction_runs_on_the_cluster(
    redis_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recorder = Recorder(monkeypatch)
    archive = LedgerArchive(tmp_path / "archive")  # the history's archive action writes there
    store = Store(open_redis(redis_cluster.url), archive=archive)
    await store.redis.flushdb()
    world = await new_world(store, Conductor(random.Random(SEED)), SEED, 8)
    outcome = await play(world, SEED, STEPS)  # closes its store
    assert not outcome.violation, "\n".join([outcome.violation, *outcome.log[-30:]])
    store = Store(open_redis(redis_cluster.url))
    try:
        for step in RARE_STEPS:
            await step(store)
    finally:
        await store.close()
    missing = sorted(set(scripts_module.script_names()) - recorder.functions)
    assert missing == [], " ".join(missing)
    assert sorted(transactions_in_source() - recorder.transactions) == []


async def test_a_call_across_two_slots_fails_on_the_cluster(cluster_store: Store) -> None:
    """The check the test above relies on: two accounts in one step are refused."""
    crossing = [keys.balance_prepaid(A), keys.transactions(B), keys.idempotency(A)]
    with pytest.raises((RedisClusterException, ResponseError), match=CROSSING):
        await cluster_store.scripts.call("credit", crossing, [1, "prepaid", "credit", "", ""])
    async with cluster_store.redis.pipeline(transaction=True) as pipe:
        pipe.get(keys.balance_prepaid(A))
        pipe.get(keys.balance_prepaid(B))
        with pytest.raises((RedisClusterException, ResponseError), match=CROSSING):
            await pipe.execute()
    assert await cluster_store.ledger.balances(A) == await cluster_store.ledger.balances(B)


# --- the steps a history rarely takes, one call each ------------------------------------


async def debit(store: Store) -> None:
    await store.ledger.credit(A, Money(20_000), reason="test")
    await store.ledger.debit(A, Money(5_000), reason="test")


async def numbers(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    await store.numbers.assign(A, "+15555550100")
    await store.numbers.release(A)


async def expire_credits(store: Store) -> None:
    await store.credits.expire(A, now=T0, cutoff=T0, actor="test")


async def settle_and_draw(store: Store) -> None:
    await store.billing.settle(A, "202701", at=T0, actor="test")
    draw = Transfer("20270101:ev1", "20270101", "ev1", A, "sms", 3)
    await store.usage.apply_transfers(B, [draw], T0, late_days=7)
    await store.usage.authorizing(A, "202701", "sms")  # the gateway's authorize


async def group_life(store: Store) -> None:
    """A trial joins a main and leaves; a referral code is made, used, and another revoked;
    a closed main's leaf is detached; a join that could not finish is refunded."""
    await main_and_trial(store)
    flow = flow_of(store)
    await groups.join(flow, MAIN, LEAF, JOINED_AT)
    await groups.leave(flow, LEAF, JOINED_AT + days(1))
    code = await groups.create_referral(flow, MAIN, JOINED_AT)
    newcomer = "newcomer@example.org"
    await groups.use_code(
        flow_of(store, actor=newcomer), newcomer, code.code, CodeUse.REGISTER, JOINED_AT,
        attempts_per_hour=10,
    )  # fmt: skip
    await store.groups.unclaim_code(code.code, newcomer)
    other = await groups.create_referral(flow, MAIN, JOINED_AT)
    assert await store.groups.revoke_code(MAIN, other.code, JOINED_AT)
    record = FreezeRecord(FreezeKind.BILLING, "test", T0, "test")
    await store.groups.detach(await store.groups.index_of(MAIN), newcomer, record, at=T0)
    await store.groups.refund_join(MAIN, LEAF, ref="join:x", reason="test", at=T0, actor="t")
    await store.billing.close(MAIN, record, at=T0)  # not frozen for it: nothing closes


async def locks(store: Store) -> None:
    lock = store.locks.chore("renew", shard=3)
    assert await lock.acquire() and await lock.refresh() and await lock.release()
    dead = f"{socket.gethostname()}:{2**22 + 7}:1:feed"  # above pid_max: never alive
    await store.redis.set(keys.chore_lock("renew", 3), dead, px=60_000)
    assert await lock.acquire() and await lock.release()


async def bot_state(store: Store) -> None:
    await store.botstate.hit("msg", A, limit=10, window_seconds=60, now=0.0)
    await store.botstate.remember_offer(A, "CODE", "an offer", at=T0, days=7)
    await store.botstate.will_tell(A, "left:")
    await store.code_attempts.record_failure(A)
    await store.page_forms.take(A, "nonce", 60)


async def outbox_done(store: Store) -> None:
    await store.outbox.ensure_group()
    await store.outbox.notify(Notice(A, NoticeKind.OPERATOR_CREDIT, "hello"))
    for note in await store.outbox.next_batch("test", block_ms=100):
        await store.outbox.done(note)


async def checkout(store: Store) -> None:
    pending = PendingPayment("test", "test_1", A, Money(100_000), T0)
    await store.payments_in.record(pending)


async def cards_rarely(store: Store) -> None:
    """The card steps a short history may not reach (each on one account's keys)."""
    card = Card("card_1", "visa", "4242", 12, 2030, "fp_1", T0)
    await store.cards.add(A, card, "cus_1")
    await store.cards.claim_autotopup(A, T0, cooldown_s=60, cap=Money(1_000_000), max_failures=3)
    request = ChargeRequest("key-0", Purpose.TOPUP, Money(100_000), card, "test")
    await store.cards.begin_charge(A, request, T0)
    paid = Credited(Money(100_000), "test", "stripe:pi_0", "key-0", "card_1", "pi_0", Purpose.TOPUP)
    await store.cards.credit(A, paid, at=T0, actor="test")
    plan = (("pi_0", Money(10_000)),)
    await store.card_returns.refund(A, "refund-0", plan, reason="test", at=T0, actor="test")
    await store.card_returns.provider_refunded(
        A, "pi_0", Money(20_000), reason="test", at=T0, actor="test"
    )
    await store.cards.remove(A, "card_1", may_be_last=True)
    await store.cards.set_default(A, "card_1")
    await store.cards.release_autotopup(A, Claim(1, Money(100_000)), "202701")
    await store.cards.abandon(A, "charge-key")
    await store.card_returns.undo_refund(
        A, "refund-1", "pi_1", Money(10_000), reason="test", at=T0, actor="test"
    )
    charge = InFlight("key-1", Purpose.TOPUP, Money(100_000), "card_1", "test", "", T0)
    await store.cards.fail(A, charge, "declined", at=T0)
    dispute = Dispute("dp_1", "pi_1", Money(10_000), DisputeStatus.OPEN, T0)
    await store.card_returns.open_dispute(A, dispute, reason="test", freeze="{}", actor="test")
    await store.card_returns.close_dispute(A, "dp_1", True, reason="test", at=T0, actor="test")


async def moves_rarely(store: Store) -> None:
    """The steps of a move that a short history may not reach."""
    await store.moves.release(B, "move-1", T0)
    await store.moves.replace_member(A, A, B)
    await store.moves.repoint_leaf(B, A, "carol@example.org")


async def archive_ledger(store: Store) -> None:
    """A's old months to an archive, a paid invoice with them; reconcile on both paths."""
    await store.ledger.credit(A, Money(20_000), reason="test", ref="r1", at=T0)
    with tempfile.TemporaryDirectory(prefix="cluster-archive-") as root:
        archiving = Archiving(store, LedgerArchive(Path(root)), "209901", T0, "test")
        await archive_account(archiving, A)
    await store.billing.drop_archived_invoices(A, ["202601"])
    assert await store.ledger.check(A) == []
    await store.ledger._sum_by_pages(A)  # a stream too long for ledger_sums.lua
    marker = keys.shard(keys.LEDGER_ARCHIVED_BEFORE, 0)
    await store.ledger.mark_archived_before(marker, "209901")


RARE_STEPS: list[Callable[[Store], Any]] = [
    archive_ledger,
    cards_rarely,
    moves_rarely,
    debit,
    numbers,
    expire_credits,
    settle_and_draw,
    group_life,
    locks,
    bot_state,
    outbox_done,
    checkout,
]


def test_the_source_lists_transactions_to_cover() -> None:
    """The AST search finds the MULTI pipelines (the list above is not vacuous)."""
    found = transactions_in_source()
    assert {"LedgerStore._sum_by_pages", "AccountStore.get", "OutboxStore.done"} <= found
    assert Path(scripts_module.__file__).name == "scripts.py"

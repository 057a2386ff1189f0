"""The ledger store, the same bodies against fakeredis and the real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import keys
from payments.errors import InsufficientFunds, WrongCurrency
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store

ALICE = "alice@example.org"


async def test_credit_writes_balance_and_ledger_in_one_step(store: Store) -> None:
    applied = await store.ledger.credit(ALICE, Money.whole(20), reason="test", ref="r1")
    assert applied.applied and applied.balance_after == Money.whole(20)
    assert await store.redis.get(keys.balance_prepaid(ALICE)) == "200000"
    [entry] = await store.ledger.entries(ALICE)
    assert (entry.amount, entry.balance, entry.kind, entry.ref) == (
        Money.whole(20),
        Balance.PREPAID,
        EntryKind.CREDIT,
        "r1",
    )
    assert entry.balance_after == Money.whole(20)


async def test_same_ref_credits_once(store: Store) -> None:
    first = await store.ledger.credit(ALICE, Money.whole(20), reason="test", ref="r1")
    again = await store.ledger.credit(ALICE, Money.whole(20), reason="test", ref="r1")
    assert not again.applied and again.entry_id == first.entry_id
    assert (await store.ledger.balances(ALICE)).prepaid == Money.whole(20)
    assert len(await store.ledger.entries(ALICE)) == 1


async def test_prepaid_key_is_absent_until_the_first_credit(store: Store) -> None:
    assert not (await store.ledger.balances(ALICE)).prepaid_exists
    with pytest.raises(InsufficientFunds):
        await store.ledger.debit(ALICE, Money(1), reason="x")
    assert await store.redis.exists(keys.balance_prepaid(ALICE)) == 0


async def test_debit_never_goes_below_zero_and_says_what_is_missing(store: Store) -> None:
    await store.ledger.credit(ALICE, Money.whole(5), reason="test")
    with pytest.raises(InsufficientFunds) as refused:
        await store.ledger.debit(ALICE, Money.whole(8), reason="too much")
    assert refused.value.missing == Money.whole(3)
    assert (await store.ledger.balances(ALICE)).prepaid == Money.whole(5)
    await store.ledger.debit(ALICE, Money.whole(5), reason="all of it")
    assert (await store.ledger.balances(ALICE)).prepaid == Money(0)


async def test_voucher_balance_is_its_own_ledger_line(store: Store) -> None:
    await store.ledger.credit(ALICE, Money.whole(3), reason="v", balance=Balance.VOUCHER)
    balances = await store.ledger.balances(ALICE)
    assert (balances.prepaid, balances.voucher) == (Money(0), Money.whole(3))
    assert not balances.prepaid_exists
    assert await store.ledger.check(ALICE) == []


async def test_check_finds_a_balance_changed_by_hand(store: Store) -> None:
    await store.ledger.credit(ALICE, Money.whole(20), reason="test")
    await store.ledger.credit("bob@example.org", Money.whole(1), reason="test")
    await store.redis.incrby(keys.balance_prepaid(ALICE), 5)
    assert sorted([j async for j in store.ledger.accounts()]) == [ALICE, "bob@example.org"]
    [mismatch] = await store.ledger.check(ALICE)
    assert (mismatch.stored, mismatch.ledger_sum) == (Money(200_005), Money.whole(20))
    assert await store.ledger.check("bob@example.org") == []


async def test_check_many_reads_each_account_held_and_its_mismatches(store: Store) -> None:
    """Reconcile's page: each account's holdings (prepaid and voucher) and its mismatches,
    in the order asked, a JID without money holding nothing."""
    jids = [f"user{n}@example.org" for n in range(30)]
    for n, jid in enumerate(jids):
        await store.ledger.credit(jid, Money(n * 10_000 + 1), reason="test")
        await store.ledger.credit(jid, Money(n + 1), reason="test", balance=Balance.VOUCHER)
    await store.redis.incrby(keys.balance_voucher(jids[7]), -3)
    checked = await store.ledger.check_many([*jids, "nobody@example.org"])
    assert [c.jid for c in checked] == [*jids, "nobody@example.org"]
    assert [c.held for c in checked] == [
        *(Money(n * 10_001 + 2 - 3 * (n == 7)) for n in range(30)),
        Money.zero(),
    ]
    [(jid, mismatch)] = [(c.jid, m) for c in checked for m in c.mismatches]
    assert (jid, mismatch.balance, mismatch.stored, mismatch.ledger_sum) == (
        jids[7],
        Balance.VOUCHER,
        Money(5),
        Money(8),
    )


async def test_refuses_bad_amounts_before_touching_redis(store: Store) -> None:
    for bad in (Money(0), Money(-5), Money(10**16)):
        with pytest.raises(ValueError, match="positive"):
            await store.ledger.credit(ALICE, bad, reason="x")
    # A JID with no account takes the default currency only (checked by the script).
    with pytest.raises(WrongCurrency, match="counts in USD"):
        await store.ledger.credit(ALICE, Money(5, "EUR"), reason="x")
    assert [key async for key in store.redis.scan_iter()] == []  # every master of a cluster


# --- properties: random sequences of credits, debits and replays -------------


@dataclass(frozen=True)
class Op:
    kind: str  # credit | debit
    units: int
    ref: str
    balance: Balance


ops = st.lists(
    st.builds(
        Op,
        kind=st.sampled_from(["credit", "debit"]),
        units=st.integers(min_value=1, max_value=5_000_000),
        ref=st.sampled_from(["", "", "a", "b", "c", "d"]),  # repeats are replays
        balance=st.sampled_from(list(Balance)),
    ),
    max_size=40,
)


async def run_model(store: Store, sequence: list[Op]) -> None:
    model = {b: 0 for b in Balance}
    seen: set[str] = set()
    for op in sequence:
        call = store.ledger.credit if op.kind == "credit" else store.ledger.debit
        try:
            result = await call(ALICE, Money(op.units), reason="p", ref=op.ref, balance=op.balance)
        except InsufficientFunds as refused:
            assert op.kind == "debit" and model[op.balance] < op.units
            assert refused.missing.units == op.units - model[op.balance]
            continue
        replay = bool(op.ref) and op.ref in seen
        assert result.applied is not replay
        if not replay:
            if op.ref:
                seen.add(op.ref)
            model[op.balance] += op.units if op.kind == "credit" else -op.units
        assert model[op.balance] >= 0
    balances = await store.ledger.balances(ALICE)
    assert (balances.prepaid.units, balances.voucher.units) == (
        model[Balance.PREPAID],
        model[Balance.VOUCHER],
    )
    assert await store.ledger.check(ALICE) == []


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(sequence=ops)
def test_property_on_fakeredis(sequence: list[Op]) -> None:
    async def body() -> None:
        store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
        await run_model(store, sequence)
        await store.close()

    asyncio.run(body())


@PROPERTY
@given(sequence=ops)
def test_property_on_real_redis(redis_url: str, sequence: list[Op]) -> None:
    async def body() -> None:
        store = Store(open_redis(redis_url))
        await store.redis.flushdb()
        await run_model(store, sequence)
        await store.close()

    asyncio.run(body())


# --- concurrency on the real server ------------------------------------------


async def gather_clients(
    redis_url: str, clients: int, work: Callable[[Store, int], Awaitable[None]]
) -> None:
    stores = [Store(open_redis(redis_url, max_connections=4)) for _ in range(clients)]
    try:
        await asyncio.gather(*(work(s, i) for i, s in enumerate(stores)))
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_many_clients_on_one_account_end_exact(real_store: Store, redis_url: str) -> None:
    await real_store.ledger.credit(ALICE, Money.whole(100), reason="start")

    async def work(store: Store, n: int) -> None:
        for i in range(25):
            # Every client replays the same 10 refs: each must land exactly once.
            await store.ledger.credit(ALICE, Money(10_000), reason="c", ref=f"shared-{i % 10}")
            await store.ledger.credit(ALICE, Money(3), reason="c", ref=f"own-{n}-{i}")
            try:
                await store.ledger.debit(ALICE, Money(7), reason="d")
            except InsufficientFunds:
                pytest.fail("the balance can cover every debit")

    await gather_clients(redis_url, 40, work)
    expected = 1_000_000 + 10 * 10_000 + 40 * 25 * 3 - 40 * 25 * 7
    assert (await real_store.ledger.balances(ALICE)).prepaid == Money(expected)
    assert await real_store.ledger.check(ALICE) == []


async def test_concurrent_debits_never_overdraw(real_store: Store, redis_url: str) -> None:
    await real_store.ledger.credit(ALICE, Money(1_000), reason="start")
    wins = []

    async def work(store: Store, n: int) -> None:
        try:
            await store.ledger.debit(ALICE, Money(30), reason="race")
            wins.append(n)
        except InsufficientFunds:
            pass

    await gather_clients(redis_url, 60, work)
    assert len(wins) == 33  # 33 * 30 = 990 <= 1000 < 34 * 30
    assert (await real_store.ledger.balances(ALICE)).prepaid == Money(10)

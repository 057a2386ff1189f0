"""Property: whatever joins, leaves, removals and crashes happen, groups stay consistent.

Two mains and three trial accounts; each step joins, leaves, removes, crashes
a join or a leave at a random step boundary, resumes an account, or puts
money on a trial. After every step: no JID is listed in two groups, an
account listed is a leaf pointing at that group (unless a move of it is in
flight), books add up and no (period, leaf) is charged twice. At the end,
once every account is resumed, nothing is left in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import fakeredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import keys
from payments.errors import PaymentsError
from payments.groups import flow as group_flows
from payments.groups.flow import JOIN_STEPS, LEAVE_STEPS
from payments.stores import Store
from tests.support.billing import T0, account_of, basic_plan, days, paid_account, usd
from tests.support.groups import Crash, crash_at, flow_of

MAINS = ("m1@example.org", "m2@example.org")
TRIALS = ("a@example.org", "b@example.org", "c@example.org")
CRASH_POINTS = sorted({s.value for s in (*JOIN_STEPS, *LEAVE_STEPS)})


@dataclass(frozen=True)
class Op:
    action: str  # join | leave | remove | crash_join | crash_leave | resume | money
    main: int
    leaf: int
    crash: str
    advance_hours: int


ops = st.lists(
    st.builds(
        Op,
        action=st.sampled_from(
            ["join", "join", "leave", "remove", "crash_join", "crash_leave", "resume", "money"]
        ),
        main=st.integers(0, 1),
        leaf=st.integers(0, 2),
        crash=st.sampled_from(CRASH_POINTS),
        advance_hours=st.integers(0, 200),
    ),
    max_size=15,
)


async def apply(store: Store, op: Op, hours: int) -> None:
    now = T0 + days(1) + days(hours / 24)
    main, leaf = MAINS[op.main], TRIALS[op.leaf]
    hook = crash_at(op.crash) if op.action.startswith("crash") else None
    flow = flow_of(store, hook)
    with contextlib.suppress(PaymentsError, Crash):
        if op.action in ("join", "crash_join"):
            await group_flows.join(flow, main, leaf, now)
        elif op.action in ("leave", "crash_leave"):
            await group_flows.leave(flow, leaf, now)
        elif op.action == "remove":
            await group_flows.remove(flow, main, leaf, now)
        elif op.action == "resume":
            await group_flows.resume(flow, leaf if op.main else main, now)
        elif (await account_of(store, leaf)).kind.value == "trial":
            await store.ledger.credit(leaf, usd("1"), reason="top-up")
    await store.redis.delete(*(keys.group_lock(m) for m in MAINS))  # a crash left it held


async def check(store: Store, *, settled: bool) -> None:
    listed: dict[str, str] = {}
    for main in MAINS:
        group = await store.groups.of(main)
        if group is not None:
            for leaf in group.leaves:
                assert leaf not in listed, f"{leaf} in two groups"
                listed[leaf] = group.index
        assert await store.ledger.check(main) == []
        refs = [e.ref for e in await store.ledger.entries(main) if e.ref.startswith("join:")]
        assert len(refs) == len(set(refs))
    for jid in TRIALS:
        moving = await store.groups.move(jid) is not None
        assert not (settled and moving)
        account = await store.accounts.get(jid)
        assert account is not None
        index = await store.groups.index_of(jid)
        if moving:
            continue
        assert (account.kind.value == "leaf") == bool(index) == (jid in listed), jid
        if jid in listed:
            assert listed[jid] == index
            assert await store.redis.exists(keys.balance_prepaid(jid)) == 0
    if settled:
        for main in MAINS:
            assert await store.groups.unfinished_joins(main) == []


async def run_ops(store: Store, sequence: list[Op]) -> None:
    await basic_plan(store, "10")
    for main in MAINS:
        await paid_account(store, main, T0, "40")
    for jid in TRIALS:
        await store.accounts.register_trial(jid, T0, 30)
    hours = 0
    for op in sequence:
        hours += op.advance_hours
        await apply(store, op, hours)
        await check(store, settled=False)
    end = T0 + days(1) + days(hours / 24)
    for jid in (*TRIALS, *MAINS):
        await group_flows.resume(flow_of(store), jid, end)
    await check(store, settled=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=ops)
def test_groups_stay_consistent_whatever_happens(sequence: list[Op]) -> None:
    async def body() -> None:
        store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
        try:
            await run_ops(store, sequence)
        finally:
            await store.close()

    asyncio.run(body())

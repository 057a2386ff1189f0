"""A crash at every step boundary of a join or a leave, then a re-run: consistent state.

The flow's test hook raises at the named boundary (the process "dies"
there, with everything before it written); the re-run is the same command
again, or the next group command of either account (``resume``). In the end
the leaf is in exactly one group and its main was charged exactly once.
tests/groups/test_groups_kill.py does the same with SIGKILL in a subprocess.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from payments import keys
from payments.accounts.records import AccountKind
from payments.billing.renewal import renew_account
from payments.groups import flow as group_flows
from payments.groups.flow import JOIN_STEPS, LEAVE_STEPS, Step
from payments.groups.rules import CodeUse
from payments.stores import Store
from tests.support.billing import RENEWAL_DUE, cycle_of, days, kinds, outbox, usd
from tests.support.groups import (
    JOINED_AT,
    LEAF,
    MAIN,
    PRORATED,
    Crash,
    assert_joined_once,
    crash_at,
    flow_of,
    main_and_trial,
    membership,
)

Rerun = Callable[[Store], Awaitable[object]]


async def join_again(store: Store) -> object:
    return await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT + days(1))


async def resume_main(store: Store) -> object:
    return await group_flows.resume(flow_of(store), MAIN, JOINED_AT + days(1))


async def resume_leaf(store: Store) -> object:
    return await group_flows.resume(flow_of(store), LEAF, JOINED_AT + days(1))


@pytest.mark.parametrize("step", [s.value for s in JOIN_STEPS])
@pytest.mark.parametrize("rerun", [join_again, resume_main, resume_leaf])
async def test_a_join_cut_at_any_step_is_completed_by_a_rerun(
    store: Store, step: str, rerun: Rerun
) -> None:
    await main_and_trial(store)
    with pytest.raises(Crash):
        await group_flows.join(flow_of(store, crash_at(step)), MAIN, LEAF, JOINED_AT)
    await rerun(store)
    if rerun is resume_main and step == Step.MOVE_RECORDED:
        # Cut before the charge: the main has nothing to finish (and paid nothing);
        # the leaf's move waits for the leaf's next touch.
        assert await store.groups.main_of(LEAF) == ""
        assert (await store.ledger.balances(MAIN)).prepaid == usd("30")
        await resume_leaf(store)
    await rerun(store)  # and a second re-run changes nothing
    await assert_joined_once(store, MAIN, LEAF, PRORATED)  # the price of the first run
    assert (await kinds(store, MAIN)).count("leaf_joined") == 1
    outcome = await renew_account(cycle_of(store), MAIN, RENEWAL_DUE)
    assert [line.member for line, _ in outcome.lines] == [MAIN, LEAF]


@pytest.mark.parametrize("step", [s.value for s in JOIN_STEPS])
async def test_an_accept_cut_at_any_step_is_completed_by_accepting_again(
    store: Store, step: str
) -> None:
    await main_and_trial(store)
    await group_flows.invite_jid(flow_of(store), MAIN, LEAF, JOINED_AT)
    text = (await _invitation(store)).split("'accept ")[1].split("'")[0]
    crashing = flow_of(store, crash_at(step))
    with pytest.raises(Crash):
        await group_flows.use_code(
            crashing, LEAF, text, CodeUse.ACCEPT, JOINED_AT, attempts_per_hour=10
        )
    joined = await group_flows.use_code(
        flow_of(store), LEAF, text, CodeUse.ACCEPT, JOINED_AT, attempts_per_hour=10
    )
    assert isinstance(joined, group_flows.Joined)
    await assert_joined_once(store, MAIN, LEAF, PRORATED)
    assert await store.code_attempts.failures(LEAF) == 0


async def _invitation(store: Store) -> str:
    [note] = [n for n in await outbox(store, LEAF) if n.kind == "invitation"]
    return note.body


async def leave_again(store: Store) -> object:
    return await group_flows.leave(flow_of(store), LEAF, JOINED_AT + days(3))


async def remove_again(store: Store) -> object:
    return await group_flows.remove(flow_of(store), MAIN, LEAF, JOINED_AT + days(3))


@pytest.mark.parametrize("step", [s.value for s in LEAVE_STEPS])
@pytest.mark.parametrize("rerun", [leave_again, remove_again, resume_leaf])
async def test_a_leave_cut_at_any_step_is_completed_by_a_rerun(
    store: Store, step: str, rerun: Rerun
) -> None:
    await main_and_trial(store)
    await group_flows.join(flow_of(store), MAIN, LEAF, JOINED_AT)
    with pytest.raises(Crash):
        await group_flows.leave(flow_of(store, crash_at(step)), LEAF, JOINED_AT + days(2))
    await rerun(store)
    assert await membership(store, LEAF) == []
    assert await store.groups.index_of(LEAF) == "" and await store.groups.move(LEAF) is None
    account = await store.accounts.get(LEAF)
    assert account is not None and account.kind is AccountKind.TRIAL
    assert account.trial_ends_at == RENEWAL_DUE
    assert await store.schedules.at(keys.TRIAL_ENDS, LEAF) == RENEWAL_DUE
    assert (await kinds(store, LEAF)).count("leaf_left") == 1
    assert (await kinds(store, MAIN)).count("leaf_left") == 1
    outcome = await renew_account(cycle_of(store), MAIN, RENEWAL_DUE)
    assert [line.member for line, _ in outcome.lines] == [MAIN]

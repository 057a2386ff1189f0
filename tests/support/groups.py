"""Shared helpers of the group tests (tests/test_groups_*.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from payments import keys
from payments.groups.flow import GroupFlow, StepHook
from payments.money import Money
from payments.stores import Store
from tests.support.billing import POLICY, T0, basic_plan, paid_account

MAIN = "main@example.org"
LEAF = "leaf@example.org"
OTHER_MAIN = "other@example.org"
JOINED_AT = T0 + timedelta(days=15)  # 16 of the main's 31 days left
PRORATED = Money(51_600)  # $10 * 16/31 = $5.1613, rounded half up to whole cents


class Crash(Exception):
    """Raised by a test hook at a step boundary: the process 'dies' there."""


def crash_at(step: str) -> StepHook:
    async def hook(name: str) -> None:
        if name == step:
            raise Crash(step)

    return hook


def flow_of(store: Store, hook: StepHook | None = None, actor: str = "test") -> GroupFlow:
    return GroupFlow(store, POLICY, actor, hook)


async def main_and_trial(
    store: Store, *, main_amount: str = "40", leaf: str = LEAF, at: datetime = T0
) -> None:
    """A paid main (its first $10 month charged on ``at``) and a trial account."""
    await basic_plan(store, "10")
    await paid_account(store, MAIN, at, main_amount)
    await store.accounts.register_trial(leaf, at, POLICY.trial_days)


async def membership(store: Store, jid: str) -> list[str]:
    """Every group list ``jid`` appears in (as a leaf), by scanning them all (tests only)."""
    found = []
    async for key in store.redis.scan_iter(match="payment-leaf_jids-{*}"):
        members = await store.redis.lrange(key, 1, -1)
        found += [key] * members.count(jid)
    return found


async def assert_joined_once(store: Store, main: str, leaf: str, amount: Money) -> None:
    """The leaf is in exactly one group, that main's; the main paid ``amount`` once."""
    assert await store.groups.main_of(leaf) == main
    assert await membership(store, leaf) == [keys.leaf_jids(await store.groups.index_of(main))]
    assert await store.groups.move(leaf) is None
    assert await store.groups.unfinished_joins(main) == []
    account = await store.accounts.get(leaf)
    assert account is not None and account.kind.value == "leaf"
    charged = [
        e
        for e in await store.ledger.entries(main)
        if e.ref.startswith("join:") and e.ref.split(":")[2] == leaf
    ]
    assert -sum(e.amount.units for e in charged) == amount.units
    assert len({e.ref for e in charged}) == len(charged)
    assert await store.ledger.check(main) == []

"""A main paying for three leaves: one charge per member, frozen and unfrozen together."""

from __future__ import annotations

from payments import keys
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.freezes import Closed, Froze, close_frozen, freeze_unpaid
from payments.billing.renewal import Renewed, renew_account
from payments.ledger.records import EntryKind
from payments.stores import Store
from tests.support.billing import (
    T0,
    account_of,
    basic_plan,
    cycle_of,
    days,
    kinds,
    paid_account,
    top_up,
    usd,
)

MAIN = "main@example.org"
LEAVES = ("leaf1@example.org", "leaf2@example.org", "leaf3@example.org")


async def group_of_four(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, MAIN, T0, "40")
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(MAIN)
    for leaf in LEAVES:
        await store.accounts.register_trial(leaf, T0, 30)
        assert await store.groups.join(index, MAIN, leaf, plan, at=T0) == 1
    # An operator raises the price: the leaves keep the price they joined at.
    await store.plans.put("basic", at=T0 + days(1), price=usd("12"))


async def frozen_set(store: Store) -> dict[str, bool]:
    out = {}
    for jid in (MAIN, *LEAVES):
        account = await store.accounts.get(jid)
        assert account is not None
        out[jid] = FreezeKind.BILLING in account.freezes
    return out


async def test_renewal_is_one_charge_per_member_on_the_main(store: Store) -> None:
    await group_of_four(store)
    due = (await account_of(store, MAIN)).next_renewal_at
    assert due is not None
    outcome = await renew_account(cycle_of(store), MAIN, due)
    assert outcome.result is Renewed.INVOICED  # $30 left, $40 due
    assert [(line.member, line.amount) for line, _ in outcome.lines] == [
        (MAIN, usd("10")),
        *((leaf, usd("10")) for leaf in LEAVES),
    ]
    charges = [e for e in await store.ledger.entries(MAIN) if e.kind is EntryKind.CHARGE]
    assert [e.ref for e in charges[1:]] == [
        f"renew:202602:{jid}:prepaid" for jid in (MAIN, *LEAVES[:2])
    ]
    invoice = await store.billing.invoice(MAIN, "202602")
    assert invoice is not None and [ln.member for ln in invoice.lines] == [MAIN, *LEAVES]
    assert invoice.due == usd("10")
    for leaf in LEAVES:  # a leaf holds no money and gets no ledger
        assert await store.redis.exists(keys.balance_prepaid(leaf)) == 0
        assert await store.ledger.entries(leaf) == []
    again = await renew_account(cycle_of(store), MAIN, due)
    assert again.result is Renewed.RESCHEDULED
    assert len(await store.ledger.entries(MAIN)) == len(charges) + 1


async def test_leaves_freeze_with_their_main_and_unfreeze_when_it_pays(store: Store) -> None:
    await group_of_four(store)
    cycle = cycle_of(store)
    due = (await account_of(store, MAIN)).next_renewal_at
    assert due is not None
    await renew_account(cycle, MAIN, due)
    assert await freeze_unpaid(cycle, MAIN, due + days(7)) is Froze.FROZEN
    assert await frozen_set(store) == dict.fromkeys((MAIN, *LEAVES), True)
    for leaf in LEAVES:
        assert await kinds(store, leaf) == ["frozen"]
    outcome = await top_up(store, MAIN, "10", due + days(8))
    assert outcome.settlement.unfrozen
    assert await frozen_set(store) == dict.fromkeys((MAIN, *LEAVES), False)
    for leaf in LEAVES:
        assert await kinds(store, leaf) == ["frozen", "unfrozen"]


async def test_closing_a_main_detaches_and_tells_its_leaves(store: Store) -> None:
    await group_of_four(store)
    cycle = cycle_of(store)
    due = (await account_of(store, MAIN)).next_renewal_at
    assert due is not None
    await renew_account(cycle, MAIN, due)
    await freeze_unpaid(cycle, MAIN, due + days(7))
    closure = await close_frozen(cycle, MAIN, due + days(97))
    assert closure.result is Closed.CLOSED and closure.detached == LEAVES
    assert await store.groups.of(MAIN) is None
    for leaf in LEAVES:
        account = await store.accounts.get(leaf)
        assert account is not None and account.kind is AccountKind.TRIAL and not account.closed
        assert FreezeKind.BILLING in account.freezes  # until it activates itself
        assert await store.groups.of(leaf) is None
        assert (await kinds(store, leaf))[-1] == "leaf_detached"
    # A detached leaf that tops up the activation amount becomes a paid account.
    outcome = await top_up(store, LEAVES[0], "20", due + days(98))
    assert outcome.settlement.activated
    account = await store.accounts.get(LEAVES[0])
    assert account is not None and account.kind is AccountKind.PAID and not account.frozen

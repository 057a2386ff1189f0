"""A main worth moving: a paid account with a leaf, a number, an open invoice, credits,
autobuy, a notification choice and a referral code; helpers of the move tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments import keys
from payments.billing.renewal import renew_account
from payments.config import UsageConfig
from payments.groups import flow as group_flows
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.moves.flow import MoveFlow, ask_move
from payments.notifications.flow import set_choice
from payments.referrals.flow import my_code
from payments.stores import Store
from payments.usage import flow as metering
from payments.usage.flow import Meter
from payments.usage.rules import UsageEvent
from tests.support.billing import POLICY, T0, basic_plan, cycle_of, days, paid_account, usd

OLD, NEW, LEAF = "old@example.org", "new@example.org", "kid@example.org"
NUMBER = "+15550100777"
MOVED_AT = T0 + days(45)  # after the first renewal left an invoice open


@dataclass(frozen=True)
class Before:
    total: int  # prepaid + voucher units of the old account
    entries: int  # ledger entries of the old account
    code: str  # its referral code


def flow_of(store: Store, actor: str = "test") -> MoveFlow:
    return MoveFlow(store, POLICY, actor)


async def main_worth_moving(
    store: Store, old: str = OLD, leaf: str = LEAF, number: str = NUMBER, start: datetime = T0
) -> Before:
    """Old pays for a leaf, holds a number, credits, an autobuy, owes an invoice (all
    from ``start``: the first renewal, a month later, leaves the invoice open)."""
    await basic_plan(store, "10")
    await store.packs.put("sms100", at=start, resource="sms", quantity=100, price=usd("3"))
    await paid_account(store, old, start, "30")
    await store.accounts.register_trial(leaf, start, 30)
    await group_flows.join(group_flows.GroupFlow(store, POLICY, "test"), old, leaf, start + days(1))
    await store.numbers.assign(old, number)
    meter = Meter(store, UsageConfig(), old)
    await metering.buy_pack(meter, old, "sms100", start + days(2), actor=old)
    await metering.set_autobuy(meter, old, "sms100", True, start + days(2))
    used = UsageEvent(f"u1{old}", old, "sms", 7, start + days(3))
    await metering.ingest(meter, [used], start + days(3))
    await set_choice(store, old, "usage", False)
    code = (await my_code(store, POLICY, old, start + days(3))).code
    renewed = await renew_account(cycle_of(store), old, start + days(31))  # an invoice open
    assert renewed.owed is not None and renewed.owed.units > 0
    # Money that came afterwards (credited, not yet applied to the invoice).
    await store.ledger.credit(old, usd("0.75"), reason="gift", balance=Balance.VOUCHER)
    await store.ledger.credit(old, usd("0.50"), reason="top-up", kind=EntryKind.PAYMENT)
    balances = await store.ledger.balances(old)
    assert balances.total.units < renewed.owed.units
    return Before(balances.total.units, len(await store.ledger.entries(old)), code)


async def offer_code(store: Store, at: datetime = MOVED_AT) -> str:
    """Old asks to move to New; the code sent (to New, if it could receive the account)."""
    await ask_move(flow_of(store, OLD), OLD, NEW, at)
    record = await store.moves.record(OLD)
    assert record is not None
    return record.code


def units(money: Money) -> int:
    return money.units


async def moved_entries(store: Store, jid: str) -> list[str]:
    return [e.ref for e in await store.ledger.entries(jid) if e.kind is EntryKind.MOVED]


async def listed(store: Store, index: str) -> list[str]:
    members = await store.redis.lrange(keys.leaf_jids(index), 0, -1)
    return [str(m) for m in members]


async def assert_moved(store: Store, before: Before) -> None:
    """Everything of Old is New's, once: the balances (no money made or lost), the leaf,
    the number, the open invoice; Old is closed with empty books; no ref twice."""
    new = await store.accounts.get(NEW)
    assert new is not None and new.open and new.kind.value == "paid" and new.number == NUMBER
    assert (await store.ledger.balances(NEW)).total.units == before.total
    assert (await store.ledger.balances(OLD)).total.units == 0
    assert await store.numbers.holder(NUMBER) == NEW
    assert await store.groups.main_of(LEAF) == NEW
    assert (await store.billing.owed(NEW)).units > 0
    old = await store.accounts.get(OLD)
    assert old is not None and old.closed and old.moved_to == NEW
    for jid in (OLD, NEW, LEAF):
        assert await store.ledger.check(jid) == [], jid
        refs = [e.ref for e in await store.ledger.entries(jid) if e.ref]
        assert len(refs) == len(set(refs)), (jid, refs)
    move_id = await _move_id(store)
    carried = [f"move:{move_id}:in:prepaid", f"move:{move_id}:in:voucher"]
    assert await moved_entries(store, NEW) == carried
    assert len(await store.ledger.entries(OLD)) == before.entries + 2  # the two carried out


async def dump_all(store: Store) -> dict[str, Any]:
    """Every key and its serialised value: equal dumps, nothing changed."""
    found = sorted([k async for k in store.redis.scan_iter(count=1000)])
    return {k: await store.redis.dump(k) for k in found}


async def _move_id(store: Store) -> str:
    record = await store.moves.record(OLD)
    assert record is not None
    return record.id

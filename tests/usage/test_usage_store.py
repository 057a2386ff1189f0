"""Usage counters and credit grants in Redis: the same bodies on fakeredis and redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments import keys
from payments.catalog.records import UnknownPack
from payments.config import UsageConfig
from payments.errors import InsufficientFunds
from payments.ledger.records import Balance, EntryKind
from payments.stores import Store
from payments.usage.credits import BuyRefused
from payments.usage.flow import (
    authorize,
    buy_pack,
    expire_account,
    ingest,
    month_usage,
    settle_account,
)
from payments.usage.rules import Reason, UsageEvent
from payments.usage.store import ToCount
from tests.support.billing import basic_plan, days, top_up, usd
from tests.support.streams import stream
from tests.support.usage import (
    LEAF,
    T0,
    A,
    customer,
    events,
    meter,
    next_month,
    of_kind,
    sms_pack,
    sms_plan,
)


async def test_events_count_once_whatever_the_replays(store: Store) -> None:
    await sms_plan(store, sms=100)
    await customer(store)
    m = meter(store)
    first = await ingest(m, events(A, 60), T0)
    assert first.count("counted") == 60
    again = await ingest(m, events(A, 70), T0)  # 60 replayed, 10 new
    assert (again.count("counted"), again.count("duplicate")) == (10, 60)
    counters = await store.usage.month(A, "202603")
    assert counters["used:sms"] == "70" and "credit:sms" not in counters
    decision = await authorize(m, A, "sms", T0)
    assert decision.allow and decision.remaining == 30


async def test_an_event_counted_last_month_is_not_counted_again_this_month(store: Store) -> None:
    await sms_plan(store)
    await customer(store)
    march_end = datetime(2026, 3, 31, 20, tzinfo=UTC)
    late = [UsageEvent("late-1", A, "sms", 5, march_end)]
    await ingest(meter(store), late, march_end)
    after = await ingest(meter(store), late, march_end + days(3))  # April: replayed
    restamped = UsageEvent("late-1", A, "sms", 5, march_end + days(2))  # another `at`
    again = await ingest(meter(store), [restamped], march_end + days(3))
    too_late = await ingest(meter(store), late, march_end + days(8))  # past the window
    assert (after.statuses, again.statuses) == (("duplicate",), ("duplicate",))
    assert too_late.statuses == ("out_of_window",)
    assert (await store.usage.month(A, "202604")) == {}
    assert (await store.usage.month(A, "202603"))["used:sms"] == "5"


async def test_event_ids_are_kept_a_set_a_day_for_the_window_only(store: Store) -> None:
    await sms_plan(store)
    await customer(store)
    await ingest(meter(store), events(A, 3), T0)
    day_set = keys.usage_events(A, "20260302")
    assert await store.redis.scard(day_set) == 3
    ttl = await store.redis.ttl(day_set)  # the rest of the day, the 7-day window, 2 days
    assert (days(8) + timedelta(hours=15)).total_seconds() - 60 < ttl
    assert ttl <= (days(10) + timedelta(hours=15)).total_seconds()


async def test_events_of_strangers_are_ignored_and_nothing_is_written(store: Store) -> None:
    done = await ingest(meter(store), events("nobody@example.org", 3), T0)
    assert done.statuses == ("unknown_account",) * 3
    assert [key async for key in store.redis.scan_iter("*nobody*")] == []


async def test_beyond_the_allowance_draws_on_credits_and_blocks_when_both_are_used(
    store: Store,
) -> None:
    await sms_plan(store, sms=10)
    await sms_pack(store, quantity=5, price="1")
    await customer(store)
    m = meter(store)
    await ingest(m, events(A, 10), T0)
    assert (await authorize(m, A, "sms", T0)).reason is Reason.EXHAUSTED
    assert (await authorize(m, A, "voice_minutes", T0)).allow
    await buy_pack(m, A, "sms1000", T0, actor=A)
    assert (await authorize(m, A, "sms", T0)).remaining == 5
    await ingest(m, events(A, 15), T0)  # 10 replayed, 5 drawn on the pack
    assert await store.redis.hgetall(keys.credit_pending(A)) == {"sms": "5"}
    assert (await authorize(m, A, "sms", T0)).reason is Reason.EXHAUSTED
    view = await month_usage(m, A, T0)
    sms = next(line for line in view.lines if line.resource == "sms")
    assert (sms.used, sms.from_allowance, sms.from_credits, sms.left) == (15, 10, 5, 0)


async def test_settlement_takes_credits_once_per_slot_and_writes_them_once_a_month(
    store: Store,
) -> None:
    await sms_plan(store, sms=10)
    await sms_pack(store, quantity=100, price="1")
    await customer(store)
    m = meter(store)
    purchase = await buy_pack(m, A, "sms1000", T0, actor=A)
    await ingest(m, events(A, 25), T0)
    first = await settle_account(m, A, T0)
    assert first.applied and first.entries == 0  # taken from the grant, written in April
    again = await settle_account(m, A, T0 + timedelta(hours=2))  # the same slot
    assert not again.applied and again.entries == 0
    assert await store.usage.open_months(A) == ["202603"]  # until its credits are written
    counters = await store.usage.month(A, "202603")
    assert (counters["settled:sms"], counters["credit:sms"]) == ("25", "15")
    assert [(g.quantity, g.left) for g in await store.credits.grants(A)] == [(100, 85)]
    # The next slot settles only what came since.
    await ingest(m, events(A, 5, prefix="later"), T0 + timedelta(hours=3))
    later = await settle_account(m, A, T0 + timedelta(hours=3))
    assert later.applied and later.entries == 0
    assert [g.left for g in await store.credits.grants(A)] == [80]
    april = await settle_account(m, A, next_month(T0))
    assert april.applied and april.entries == 1
    assert await store.usage.open_months(A) == []
    closed = await store.usage.month(A, "202603")  # only its totals stay
    assert closed == {"used:sms": "30", "credit:sms": "20"}
    entries = await store.ledger.entries(A)
    assert of_kind(entries, EntryKind.USAGE) == []  # usage itself moves no money: counters only
    used = of_kind(entries, EntryKind.CREDITS_USED)
    until = f"{purchase.grant.expires_at:%Y-%m-%d}"
    assert [e.reason for e in used] == [
        f"20 sms credits used in 2026-03 (pack sms1000, valid until {until})"
    ]
    assert [(e.at, e.ref) for e in used] == [
        (datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC), "credits:202603:sms")
    ]
    assert all(e.amount.units == 0 for e in used)
    assert await store.ledger.check(A) == []


async def test_credits_are_used_earliest_expiry_first_in_one_entry_per_resource(
    store: Store,
) -> None:
    await sms_plan(store, sms=0)
    await sms_pack(store, quantity=10, price="1")
    await customer(store)
    m = meter(store)
    older = await buy_pack(m, A, "sms1000", T0, actor=A)
    newer = await buy_pack(m, A, "sms1000", T0 + days(10), actor=A)
    await ingest(m, events(A, 25, at=T0 + days(10)), T0 + days(10))
    await settle_account(m, A, T0 + days(10))
    await settle_account(m, A, next_month(T0))
    entries = await store.ledger.entries(A)
    until = [f"{p.grant.expires_at:%Y-%m-%d}" for p in (older, newer)]
    packs = "; ".join(f"pack sms1000, valid until {day}" for day in until)
    assert [(e.kind, e.reason) for e in entries[-1:]] == [
        (EntryKind.CREDITS_USED, f"20 sms credits used in 2026-03 ({packs})")  # 5 not charged
    ]
    assert (await store.credits.grants(A)) == ()
    [(_id, fields)] = await stream(store.redis, keys.transactions(A), newest_first=True, count=1)
    assert fields["grant"] == f"{older.grant.id}:10,{newer.grant.id}:10"


async def test_buying_takes_voucher_then_prepaid_and_refuses_without_changing_anything(
    store: Store,
) -> None:
    await basic_plan(store, "10")
    await sms_pack(store, quantity=1000, price="15")
    await customer(store, amount="20")  # $10 left after the first month
    m = meter(store)
    with pytest.raises(InsufficientFunds) as refused:
        await buy_pack(m, A, "sms1000", T0, actor=A)
    assert refused.value.missing == usd("5")
    assert await store.credits.grants(A) == ()
    await store.ledger.credit(A, usd("7"), reason="v", balance=Balance.VOUCHER)
    purchase = await buy_pack(m, A, "sms1000", T0, actor=A)
    assert (purchase.bought.voucher, purchase.bought.prepaid) == (usd("7"), usd("8"))
    assert (await store.ledger.balances(A)).total == usd("2")
    assert await store.ledger.check(A) == []
    charges = of_kind(await store.ledger.entries(A), EntryKind.CHARGE)[-2:]
    assert [(c.amount, c.balance) for c in charges] == [
        (-usd("7"), Balance.VOUCHER),
        (-usd("8"), Balance.PREPAID),
    ]
    assert purchase.grant.expires_at == T0 + days(365)
    with pytest.raises(UnknownPack):
        await buy_pack(m, A, "nope", T0, actor=A)


async def test_a_frozen_account_or_a_leaf_cannot_buy(store: Store) -> None:
    await basic_plan(store, "10")
    await sms_pack(store, price="1")
    await customer(store, amount="30")
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.accounts.register_trial(LEAF, T0, 30)
    await store.groups.join(index, A, LEAF, plan, at=T0)
    with pytest.raises(BuyRefused):
        await buy_pack(meter(store), LEAF, "sms1000", T0, actor=LEAF)
    await store.redis.hset(keys.freezes(A), "violation", "{}")
    with pytest.raises(BuyRefused, match="frozen"):
        await buy_pack(meter(store), A, "sms1000", T0, actor=A)
    assert (await store.ledger.balances(A)).prepaid == usd("20")


async def test_a_leaf_uses_its_allowance_then_its_mains_credits(store: Store) -> None:
    await sms_plan(store, sms=10)
    await sms_pack(store, quantity=20, price="1")
    await customer(store)
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.accounts.register_trial(LEAF, T0, 30)
    await store.groups.join(index, A, LEAF, plan, at=T0)
    m = meter(store)
    await ingest(m, events(LEAF, 10), T0)
    assert (await authorize(m, LEAF, "sms", T0)).reason is Reason.EXHAUSTED
    await buy_pack(m, A, "sms1000", T0, actor=A)
    assert (await authorize(m, LEAF, "sms", T0)).remaining == 20
    for _ in range(3):  # replays draw once
        await ingest(m, events(LEAF, 16), T0)
    assert await store.redis.hgetall(keys.credit_pending(A)) == {f"sms|{LEAF}": "6"}
    assert await store.redis.hgetall(keys.credit_transfers(LEAF)) == {}
    assert (
        await authorize(m, A, "sms", T0)
    ).remaining == 10 + 14  # its allowance, the credits left
    await settle_account(m, A, T0)
    await settle_account(m, A, next_month(T0))
    used = of_kind(await store.ledger.entries(A), EntryKind.CREDITS_USED)
    assert [e.reason.split(" (")[0] for e in used] == [
        "6 sms credits used in 2026-03, 6 by the accounts you pay for"
    ]
    await settle_account(m, LEAF, T0)
    assert await store.ledger.entries(LEAF) == []  # its own usage moved no money
    assert (await store.usage.month(LEAF, "202603"))["settled:sms"] == "16"


async def test_a_leafs_draw_cut_in_half_by_a_crash_is_completed(store: Store) -> None:
    await sms_plan(store, sms=0)
    await sms_pack(store, quantity=20, price="1")
    await customer(store)
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.groups.join(index, A, LEAF, plan, at=T0)
    await buy_pack(meter(store), A, "sms1000", T0, actor=A)
    # The leaf's step alone, as if the process died before the main's.
    leaf_events = [("202603", e) for e in events(LEAF, 4)]
    await store.usage.count(
        [ToCount(LEAF, leaf_events, {}, ("sms",), main=A)],
        this_month="202603",
        now=T0,
        late_days=7,
    )
    assert await store.redis.hlen(keys.credit_transfers(LEAF)) == 4
    assert (await authorize(meter(store), LEAF, "sms", T0)).remaining == 20
    await settle_account(meter(store), LEAF, T0)  # the chore completes it
    assert await store.redis.hgetall(keys.credit_pending(A)) == {f"sms|{LEAF}": "4"}
    await settle_account(meter(store), LEAF, T0)
    assert await store.redis.hgetall(keys.credit_pending(A)) == {f"sms|{LEAF}": "4"}


async def test_expired_credits_are_written_to_the_ledger_and_stop_counting(store: Store) -> None:
    await sms_plan(store, sms=0)
    await sms_pack(store, quantity=50, price="1")
    await customer(store)
    m = meter(store)
    await buy_pack(m, A, "sms1000", T0, actor=A)
    await ingest(m, events(A, 20), T0)
    await settle_account(m, A, T0)
    later = T0 + days(366)
    assert (await authorize(m, A, "sms", later)).reason is Reason.EXHAUSTED
    warned = await expire_account(m, A, T0 + days(340), send=True)
    assert [g.left for g in warned.warned] == [30] and warned.expired == ()
    done = await expire_account(m, A, later, send=True)
    assert [(g.resource, g.left) for g in done.expired] == [("sms", 30)]
    expired = of_kind(await store.ledger.entries(A), EntryKind.EXPIRED)
    assert [e.reason.split(" (")[0] for e in expired] == ["30 sms credits expired unused"]
    assert expired[0].amount.units == 0
    assert await store.credits.grants(A) == ()
    assert await store.schedules.at(keys.CREDIT_EXPIRIES, A) is None
    again = await expire_account(m, A, later, send=True)
    assert again.expired == ()
    assert len(of_kind(await store.ledger.entries(A), EntryKind.EXPIRED)) == 1
    assert await store.ledger.check(A) == []


async def test_a_frozen_or_closed_account_is_denied_everything(store: Store) -> None:
    await sms_plan(store)
    await customer(store)
    m = meter(store)
    assert (await authorize(m, "nobody@example.org", "sms", T0)).reason is Reason.UNKNOWN
    await store.redis.hset(keys.freezes(A), "billing", "{}")
    for resource in ("sms", "mms", "voice_minutes"):
        assert (await authorize(m, A, resource, T0)).reason is Reason.FROZEN
    await store.redis.hset(keys.account(A), "status", "closed")
    assert (await authorize(m, A, "sms", T0)).reason is Reason.CLOSED


async def test_a_trial_gets_the_configured_trial_allowance(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    m = meter(store)
    assert (await authorize(m, A, "sms", T0)).reason is Reason.EXHAUSTED
    m.policy = UsageConfig(trial_allowances={"sms": 3})
    assert (await authorize(m, A, "sms", T0)).remaining == 3
    await top_up(store, A, "1", T0)  # not enough to activate
    assert (await authorize(m, A, "sms", T0)).remaining == 3


async def test_a_frozen_main_lends_no_credits_to_its_leaves(store: Store) -> None:
    await sms_plan(store, sms=5)
    await sms_pack(store, quantity=50, price="1")
    await customer(store)
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.groups.join(index, A, LEAF, plan, at=T0)
    m = meter(store)
    await buy_pack(m, A, "sms1000", T0, actor=A)
    await ingest(m, events(LEAF, 4), T0)
    await store.redis.hset(keys.freezes(A), "violation", "{}")  # the main alone
    assert (await authorize(m, LEAF, "sms", T0)).remaining == 1  # its own allowance only
    await ingest(m, events(LEAF, 5), T0)
    assert (await authorize(m, LEAF, "sms", T0)).reason is Reason.EXHAUSTED
    await store.redis.delete(keys.freezes(A))
    assert (await authorize(m, LEAF, "sms", T0)).remaining == 50


async def test_a_settlement_cut_short_before_leaving_the_schedule_is_finished_once(
    store: Store,
) -> None:
    await sms_plan(store, sms=5)
    await customer(store)
    m = meter(store)
    await ingest(m, events(A, 8), T0)
    ((jid, seen),) = await store.usage.unsettled(store.shards.of(A))
    # The settlement's script ran, then the process died before the schedule step.
    await store.usage.settle(
        A,
        slot=T0.replace(hour=6),
        cutoff=T0,
        at=T0,
        actor="chore:settle-usage",
        resources=("sms",),
        months=await store.usage.open_months(A),
    )
    assert await store.usage.unsettled(store.shards.of(A)) == [(A, seen)]
    again = await settle_account(m, A, T0, seen=seen)  # the next run, same slot
    assert (again.applied, again.entries, again.done) == (False, 0, True)
    assert await store.usage.unsettled(store.shards.of(A)) == []
    drawn = of_kind(await store.ledger.entries(A), EntryKind.CREDITS_USED, EntryKind.USAGE)
    assert drawn == []  # no credits to draw: nothing written
    assert (await store.usage.month(A, "202603"))["settled:sms"] == "8"  # settled once
    assert jid == A

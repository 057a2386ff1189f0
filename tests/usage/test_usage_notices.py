"""What users are told about their usage: 75%, 90% and 100% once a month, blocked (and the
main of a blocked leaf), credits expiring within 30 days. Through the outbox, on both Redis."""

from __future__ import annotations

from payments.stores import Store
from payments.usage.flow import buy_pack, expire_account, ingest
from tests.support.billing import days, outbox
from tests.support.usage import LEAF, T0, A, customer, events, meter, sms_pack, sms_plan


async def told(store: Store, jid: str) -> list[tuple[str, str]]:
    return [(n.kind, n.body) for n in await outbox(store, jid) if n.kind != "plan_activated"]


async def test_thresholds_are_told_once_each_month(store: Store) -> None:
    await sms_plan(store, sms=100)
    await customer(store)
    m = meter(store)
    await ingest(m, events(A, 74), T0)
    assert await told(store, A) == []
    await ingest(m, events(A, 80), T0)  # 74 -> 80 of 100: 75% crossed
    await ingest(m, events(A, 99), T0)  # -> 99: 90% crossed
    await ingest(m, events(A, 120), T0)  # -> 120: used up, 20 beyond
    notes = await told(store, A)
    assert [kind for kind, _ in notes] == ["usage_threshold", "usage_threshold", "resource_blocked"]
    assert notes[2][1].startswith(
        "Your sms for 2026-03 are used up (120 used): sms is blocked until 2026-04-01"
    )
    await ingest(m, events(A, 10, prefix="c"), T0)
    assert len(await told(store, A)) == 3
    # April: a new month, told again.
    april = T0 + days(31)
    await ingest(m, events(A, 75, prefix="d", at=april), april)
    await ingest(m, events(A, 90, prefix="d", at=april), april)
    notes = await told(store, A)
    assert [body for _, body in notes[3:]] == [
        "You have used 75% of your sms for 2026-04 (75 of 100). "
        "Send 'usage' for details, 'credits' for packs.",
        "You have used 90% of your sms for 2026-04 (90 of 100). "
        "Send 'usage' for details, 'credits' for packs.",
    ]


async def test_blocked_again_after_a_pack_is_told_again_and_a_leafs_main_is_told(
    store: Store,
) -> None:
    await sms_plan(store, sms=10)
    await sms_pack(store, quantity=10, price="1")
    await customer(store)
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.groups.join(index, A, LEAF, plan, at=T0)
    m = meter(store)
    await ingest(m, events(LEAF, 10), T0)
    await buy_pack(m, A, "sms1000", T0, actor=A)
    await ingest(m, events(LEAF, 20), T0)
    leaf_notes = await told(store, LEAF)
    assert [kind for kind, _ in leaf_notes] == ["resource_blocked", "resource_blocked"]
    assert "(10 used)" in leaf_notes[0][1] and "(20 used)" in leaf_notes[1][1]
    assert "Ask the account that pays for you" in leaf_notes[1][1]
    main_notes = await told(store, A)
    assert [kind for kind, _ in main_notes] == ["leaf_blocked", "leaf_blocked"]
    assert main_notes[0][1].startswith(f"{LEAF}, whom you pay for, has used up its sms")


async def test_credits_expiring_within_30_days_are_told_once(store: Store) -> None:
    await sms_plan(store, sms=10)
    await sms_pack(store, quantity=100, price="1")
    await customer(store)
    m = meter(store)
    purchase = await buy_pack(m, A, "sms1000", T0, actor=A)
    await expire_account(m, A, T0 + days(300), send=True)
    assert await told(store, A) == []
    for day in (340, 341, 350):
        await expire_account(m, A, T0 + days(day), send=True)
    notes = await told(store, A)
    assert notes == [
        (
            "credits_expiring",
            f"100 sms credits (pack sms1000) expire on {purchase.grant.expires_at:%Y-%m-%d}. "
            "Credits are used once your monthly allowance is used up.",
        )
    ]

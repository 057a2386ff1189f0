"""What the bot remembers between messages (payments/store/botstate.py), on fakeredis and
on the real redis-server: invitations delivered, replies that said a notice's news,
presence subscribers."""

from __future__ import annotations

from datetime import timedelta

from payments.stores import Store
from tests.support.billing import T0

A, B = "alice@example.org", "bob@example.org"


async def test_offers_are_listed_to_their_invitee_only_until_they_end(store: Store) -> None:
    state = store.botstate
    await state.remember_offer(A, "CODE1", "main@x offers to pay for your account", at=T0, days=7)
    await state.remember_offer(A, "CODE2", "other@x offers to pay", at=T0, days=14)
    assert await state.offers(A, T0 + timedelta(days=6)) == [
        ("CODE1", "main@x offers to pay for your account"),
        ("CODE2", "other@x offers to pay"),
    ]
    assert await state.offers(A, T0 + timedelta(days=7)) == [("CODE2", "other@x offers to pay")]
    assert await state.offers(B, T0) == []
    await state.forget_offer(A, "CODE2")
    assert await state.offers(A, T0) == [("CODE1", "main@x offers to pay for your account")]


async def test_a_reply_silences_one_notice_of_its_prefix_once(store: Store) -> None:
    state = store.botstate
    await state.will_tell(A, "left:alice@example.org:leaf@example.org:")
    assert not await state.was_told(B, "left:alice@example.org:leaf@example.org:2026")
    assert not await state.was_told(A, "left:alice@example.org:other@example.org:2026")
    assert await state.was_told(A, "left:alice@example.org:leaf@example.org:2026")
    assert not await state.was_told(A, "left:alice@example.org:leaf@example.org:2027")
    await state.will_tell(A, "left:x:")
    await state.untell(A, "left:x:")
    assert not await state.was_told(A, "left:x:1")


async def test_subscribers_come_back_in_batches(store: Store) -> None:
    jids = [f"u{n}@example.org" for n in range(1200)]
    for jid in jids:
        assert await store.botstate.add_subscriber(jid)
    assert not await store.botstate.add_subscriber(jids[0])
    await store.botstate.drop_subscriber(jids[-1])
    seen = [jid async for batch in store.botstate.subscribers(batch=100) for jid in batch]
    assert sorted(set(seen)) == sorted(jids[:-1])

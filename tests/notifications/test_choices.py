"""Notification choices: the outbox queues no notice of a kind its recipient turned off;
the kinds that say what was taken, owed, frozen or closed cannot be turned off.

The bodies run on fakeredis and on the real redis-server."""

from __future__ import annotations

import pytest

from payments.billing.reminders import warn_low_balance
from payments.billing.renewal import renew_account
from payments.errors import NotAllowed
from payments.notices import Notice, NoticeChoice, NoticeKind
from payments.notifications.flow import choices_of, set_choice
from payments.notifications.rules import UnknownKind
from payments.stores import Store
from tests.support.billing import T0, basic_plan, cycle_of, days, kinds, paid_account

ALICE, BOB = "alice@example.org", "bob@example.org"


async def test_a_kind_turned_off_is_not_queued_for_that_user_only(store: Store) -> None:
    await set_choice(store, ALICE, "usage", False)
    notes = [
        Notice(ALICE, NoticeKind.USAGE_THRESHOLD, "75%", key="u:a"),
        Notice(ALICE, NoticeKind.RESOURCE_BLOCKED, "blocked", key="b:a"),
        Notice(ALICE, NoticeKind.PAYMENT_RECEIVED, "paid", key="p:a"),
        Notice(BOB, NoticeKind.USAGE_THRESHOLD, "75%", key="u:b"),
    ]
    assert await store.outbox.notify_many(notes) == 2
    assert await kinds(store, ALICE) == [NoticeKind.PAYMENT_RECEIVED]
    assert await kinds(store, BOB) == [NoticeKind.USAGE_THRESHOLD]
    # Turned on again: the next one is queued (nothing was marked as told meanwhile).
    assert await set_choice(store, ALICE, "usage", True) == (NoticeChoice.USAGE, True)
    assert await store.outbox.notify(notes[0])
    assert NoticeKind.USAGE_THRESHOLD in await kinds(store, ALICE)


async def test_the_kinds_that_cannot_be_turned_off_say_why(store: Store) -> None:
    with pytest.raises(NotAllowed, match="why your account is blocked"):
        await set_choice(store, ALICE, "frozen", False)
    with pytest.raises(NotAllowed, match="what was taken from you, paid or is owed"):
        await set_choice(store, ALICE, "payments", False)
    with pytest.raises(NotAllowed, match="before your number is released"):
        await set_choice(store, ALICE, "closed", False)
    with pytest.raises(UnknownKind, match="You may turn off: usage, low_balance"):
        await set_choice(store, ALICE, "spam", False)
    assert await set_choice(store, ALICE, "renewal_done", False) == (NoticeChoice.RENEWAL, True)
    assert await set_choice(store, ALICE, "RENEWAL", False) == (NoticeChoice.RENEWAL, False)
    listed = {kind.name: on for kind, on in (await choices_of(store, ALICE)).kinds}
    assert listed["renewal"] is False and listed["usage"] is True and listed["freezes"] is True


async def test_the_chores_respect_the_choices_and_still_say_what_is_owed(store: Store) -> None:
    await basic_plan(store, "10")
    await paid_account(store, ALICE, T0, "20")
    await set_choice(store, ALICE, "renewal", False)
    await set_choice(store, ALICE, "low_balance", False)
    renewed = await renew_account(cycle_of(store), ALICE, T0 + days(31))
    assert renewed.charged is not None
    assert NoticeKind.RENEWAL_DONE not in await kinds(store, ALICE)
    assert await warn_low_balance(cycle_of(store), ALICE, T0 + days(55), send=True) == []
    assert NoticeKind.LOW_BALANCE not in await kinds(store, ALICE)
    failed = await renew_account(cycle_of(store), ALICE, T0 + days(60))
    assert failed.owed is not None and failed.owed.units
    assert NoticeKind.RENEWAL_FAILED in await kinds(store, ALICE)  # money owed: always sent

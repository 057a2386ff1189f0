"""Card money that goes back, end to end over HTTP: refunds (ours and the dashboard's) and
disputes, each recorded once whatever Stripe's webhook replays; a top-up that saves its
card; automatic top-up once per cooldown under concurrent charges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from payments.accounts.records import FreezeKind
from payments.cards.refunds import refund_to_cards
from payments.cards.rules import RefundRefused
from payments.cards.work import work_due
from payments.clock import utcnow
from payments.config import CardsConfig
from payments.errors import WrongCurrency
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.notices import NoticeKind
from payments.stores import Store
from payments.usage import flow as metering
from payments.web.links import topup_url
from tests.support.billing import outbox, usd
from tests.support.cards import CardSite, card_site, paid_due
from tests.support.waits import eventually
from tests.support.webfakes import read_form

ALICE = "alice@example.org"
OPERATOR = "admin@example.org"
VISA = "4242424242424242"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[CardSite]:
    async with card_site(redis_url, real_store, operators=(OPERATOR,)) as found:
        yield found


async def top_up_by_card(site: CardSite, amount: str, *, save: bool = False) -> str:
    """Alice pays a top-up at Stripe from her top-up page; the PaymentIntent's id."""
    link = topup_url(site.config, ALICE, utcnow())
    async with site.http.get(link) as response:
        fields = read_form(await response.text()).defaults()
    fields.update(other=amount, method="stripe", **({"save_card": "1"} if save else {}))
    async with site.http.post(link, data=fields, allow_redirects=False) as response:
        assert response.status == 303
    session = list(site.stripe.sessions.values())[-1]  # the one just created
    assert await site.stripe.pay(session["id"], site.http) == 200
    assert await site.deliver() == []
    return str(session["payment_intent"])


async def test_a_top_up_that_saves_its_card_keeps_it_and_its_payment(site: CardSite) -> None:
    await site.store.accounts.register_trial(ALICE, utcnow(), 30)
    payment = await top_up_by_card(site, "25", save=True)
    [card] = await site.store.cards.cards(ALICE)
    assert (card.last4, card.brand) == ("4242", "visa")
    [paid] = await site.store.card_returns.payments(ALICE)
    assert (paid.payment_intent, paid.amount) == (payment, usd("25"))
    assert await site.store.cards.owner(payment) == ALICE


async def test_a_refund_goes_to_the_newest_card_payments_once_and_never_beyond(
    site: CardSite,
) -> None:
    store, now = site.store, utcnow()
    await store.accounts.register_trial(ALICE, now, 30)
    older = await top_up_by_card(site, "10")
    newer = await top_up_by_card(site, "8")
    await store.ledger.debit(ALICE, usd("3"), reason="spent")  # $15 unspent of $18 by card
    with pytest.raises(RefundRefused) as refused:
        await refund_to_cards(
            site.desk, ALICE, usd("16"), reason="x", key="r0", now=now, actor="op"
        )
    assert refused.value.most == usd("15")
    done = await refund_to_cards(
        site.desk, ALICE, usd("12"), reason="asked", key="r1", now=now, actor="cli:op"
    )
    assert done.made == ((newer, usd("8")), (older, usd("4"))) and not done.again
    again = await refund_to_cards(
        site.desk, ALICE, usd("12"), reason="asked", key="r1", now=now, actor="cli:op"
    )
    assert again.again and again.made == done.made
    assert sorted(r["amount"] for r in site.stripe.refunds.values()) == [400, 800]
    for _ in range(2):  # Stripe's charge.refunded for each, twice: nothing more is taken
        assert set(await site.deliver()) <= {200}
        for body in site.stripe.events[-2:]:
            assert await site.stripe.post_event(body, site.http) == 200
    assert (await store.ledger.balances(ALICE)).prepaid == usd("3")
    refunds = [e for e in await store.ledger.entries(ALICE) if e.kind is EntryKind.REFUND]
    assert [(e.amount, e.ref) for e in refunds] == [(-usd("12"), "refund:r1")]
    assert await store.ledger.check(ALICE) == []


async def test_a_refund_in_another_currency_than_the_account_is_refused_and_changes_nothing(
    site: CardSite,
) -> None:
    """make simulate (a seed between 1875 and 2000): an operator's refund asked in the
    currency the account had a moment before raised a bare CurrencyMismatch."""
    store, now = site.store, utcnow()
    await store.accounts.register_trial(ALICE, now, 30)
    await top_up_by_card(site, "10")
    with pytest.raises(WrongCurrency, match="counts in USD"):
        await refund_to_cards(
            site.desk, ALICE, Money(50_000, "CAD"), reason="x", key="r9", now=now, actor="op"
        )
    assert (await store.ledger.balances(ALICE)).prepaid == usd("10")
    assert site.stripe.refunds == {}


async def test_a_dashboard_refund_is_recorded_once_and_what_was_spent_is_reported(
    site: CardSite,
) -> None:
    store = site.store
    await store.accounts.register_trial(ALICE, utcnow(), 30)
    payment = await top_up_by_card(site, "10")
    await store.ledger.debit(ALICE, usd("7"), reason="spent")
    event = site.stripe.dashboard_refund(payment, 1000)
    statuses = await asyncio.gather(*(site.stripe.post_event(event, site.http) for _ in range(5)))
    assert set(statuses) == {200}
    refunds = [e for e in await store.ledger.entries(ALICE) if e.kind is EntryKind.REFUND]
    assert [e.amount for e in refunds] == [-usd("3")]
    [short] = [n for n in await outbox(store, OPERATOR)]
    assert "$7.00 of it had been spent" in short.body


async def test_a_dispute_takes_the_money_back_once_freezes_and_a_win_gives_it_back(
    site: CardSite,
) -> None:
    store = site.store
    await store.accounts.register_trial(ALICE, utcnow(), 30)
    payment = await top_up_by_card(site, "10")
    await store.ledger.debit(ALICE, usd("6"), reason="spent")
    dispute, opened = site.stripe.dispute(payment)
    site.stripe.undelivered.clear()
    statuses = await asyncio.gather(*(site.stripe.post_event(opened, site.http) for _ in range(4)))
    assert set(statuses) == {200}
    assert (await store.ledger.balances(ALICE)).prepaid == -usd("6")  # owed: shown as such
    assert FreezeKind.DISPUTE in await store.freezes.records(ALICE)
    [for_operator] = await outbox(store, OPERATOR)
    assert dispute in for_operator.body and "--kind dispute" in for_operator.body
    closed = site.stripe.close_dispute(dispute, won=True)
    for _ in range(3):
        assert await site.stripe.post_event(closed, site.http) == 200
    assert (await store.ledger.balances(ALICE)).prepaid == usd("4")
    disputes = [e.amount for e in await store.ledger.entries(ALICE) if e.kind is EntryKind.DISPUTE]
    assert disputes == [-usd("10"), usd("10")]
    assert FreezeKind.DISPUTE in await store.freezes.records(ALICE)  # only an operator lifts it
    assert await store.ledger.check(ALICE) == []
    told = [n.kind for n in await outbox(store, ALICE)]
    assert told.count(NoticeKind.DISPUTE) == 2


async def test_automatic_top_up_once_per_cooldown_under_concurrent_charges(
    real_store: Store, redis_url: str
) -> None:
    working = CardsConfig(poll_seconds=1, autotopup_cooldown=60)
    async with card_site(redis_url, real_store, cards=working) as site:
        store, now = site.store, utcnow().replace(microsecond=0)
        await paid_due(store, ALICE, now + timedelta(days=20))
        await store.packs.put("sms100", at=now, resource="sms", quantity=100, price=usd("12"))
        await store.ledger.credit(ALICE, usd("30"), reason="top-up")
        await site.save(ALICE, VISA)
        await store.cards.set_autotopup(ALICE, usd("25"), usd("10"))
        meter = metering.Meter(store, site.config.usage, ALICE)
        buys = [metering.buy_pack(meter, ALICE, "sms100", now, actor=ALICE) for _ in range(2)]
        await asyncio.gather(*buys)  # $6 left: two charges at once, each below the threshold
        await asyncio.gather(work_due(site.desk, now), site.chores(now, "cards"))

        async def topped() -> bool:
            return (await store.ledger.balances(ALICE)).prepaid == usd("31")

        await eventually(topped, "one automatic top-up of $25")
        await metering.buy_pack(meter, ALICE, "sms100", now, actor=ALICE)  # $19: above
        await metering.buy_pack(meter, ALICE, "sms100", now, actor=ALICE)  # $7: below again
        await site.chores(now + timedelta(minutes=10), "cards")  # within the cooldown
        assert len(site.stripe.intents) == 1
        await site.chores(now + timedelta(minutes=61), "cards")
        assert len(site.stripe.intents) == 2
        assert (await store.ledger.balances(ALICE)).prepaid == usd("32")

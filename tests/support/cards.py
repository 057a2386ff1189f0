"""Helpers of the saved-card tests: cards, card payments, accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web

from payments import keys
from payments.billing.cycle import Cycle
from payments.cards.desk import Desk
from payments.cards.records import Card, Purpose
from payments.cards.saving import setup_page
from payments.cards.store import Credited
from payments.chores.registry import run_chores
from payments.chores.runner import ChoreReport, ChoreRun
from payments.config import CardsConfig, Config
from payments.stores import Store
from payments.web.state import CARDS, CONFIG
from tests.support.billing import T0, usd
from tests.support.webfakes import QUIET_CARDS, FakeStripe, running_service, serve

A = "alice@example.org"


def card(card_id: str, last4: str, *, brand: str = "visa", year: int = 2034) -> Card:
    """A saved card; the same last 4 digits, the same fingerprint (the same number)."""
    return Card(card_id, brand, last4, 12, year, f"fp-{last4}", T0)


async def registered(store: Store, jid: str, at: datetime = T0) -> None:
    await store.accounts.register_trial(jid, at, 30)


async def payment_of(
    store: Store, jid: str, payment_intent: str, amount: str, at: datetime
) -> None:
    """A card payment credited to ``jid`` (as a successful charge is)."""
    paid = Credited(
        usd(amount), "card payment", f"stripe:{payment_intent}", f"key-{payment_intent}", "",
        payment_intent, Purpose.INVOICE,
    )  # fmt: skip
    await store.cards.credit(jid, paid, at=at, actor="provider:stripe")


@dataclass
class CardSite:
    """Our web service on a real port with Stripe's fake beside it (webhooks over HTTP)."""

    base: str
    app: web.Application
    store: Store
    http: aiohttp.ClientSession
    stripe: FakeStripe

    @property
    def desk(self) -> Desk:
        return self.app[CARDS]

    @property
    def config(self) -> Config:
        return self.app[CONFIG]

    async def save(self, jid: str, number: str, exp: tuple[int, int] = (12, 2034)) -> str:
        """The holder saves a card on Stripe's setup page; Stripe's webhooks are delivered.
        The payment method's id."""
        page = await setup_page(self.desk, jid, f"{self.base}/cards/done", f"{self.base}/x")
        method = self.stripe.complete_setup(self.stripe.sessions[page.provider_id], number, exp)
        assert set(await self.stripe.deliver(self.http)) == {200}
        return method

    async def chores(self, now: datetime, name: str = "all") -> list[ChoreReport]:
        cycle = Cycle(self.store, self.config.billing)
        run = ChoreRun(cycle, now, concurrency=4, usage=self.config.usage, cards=self.desk)
        return await run_chores(run, name)

    async def deliver(self) -> list[int]:
        return await self.stripe.deliver(self.http)


@asynccontextmanager
async def card_site(
    redis_url: str,
    store: Store,
    *,
    cards: CardsConfig = QUIET_CARDS,
    operators: tuple[str, ...] = (),
) -> AsyncIterator[CardSite]:
    fake = FakeStripe()
    async with (
        serve(fake.app()) as stripe_base,
        running_service(redis_url, stripe_base=stripe_base, cards=cards, operators=operators) as (
            base,
            app,
        ),
        aiohttp.ClientSession() as http,
    ):
        fake.base, fake.webhook_url = stripe_base, f"{base}/webhooks/stripe"
        yield CardSite(base, app, store, http, fake)


async def paid_due(store: Store, jid: str, due: datetime, price: str = "10") -> None:
    """A paid account on a plan of ``price`` whose first renewal is due at ``due``."""
    await store.accounts.register_trial(jid, due - timedelta(days=40), 30)
    plan, _ = await store.plans.put(
        "basic", at=due - timedelta(days=40), price=usd(price), name="Basic"
    )
    activated = await store.billing.activate(
        jid, plan, at=due, renewal_day=due.day, activation=usd("0")
    )
    assert activated.done
    await store.schedules.add(keys.RENEWALS, jid, due)

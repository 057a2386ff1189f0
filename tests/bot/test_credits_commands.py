"""The credit bot commands (credits, buy, autobuy, usage), called as the bot calls them,
over the real redis-server (no XMPP); and recurring packs charged at renewal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from bot.commands import build_registry, credits, user
from bot.commands.model import Command, Context, Registry, convert, role_of
from bot.dispatch import Dispatcher
from payments import keys
from payments.billing.renewal import renew_account
from payments.config import Config, OperatorsConfig
from payments.ledger.records import EntryKind
from payments.store.connection import open_redis
from payments.stores import Store
from payments.usage.flow import ingest, settle_account
from tests.support.billing import cycle_of, days, usd
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

CONFIG = Config(operators=OperatorsConfig(jids=("admin@example.org",)))
BY_NAME = {c.name: c for c in credits.COMMANDS}


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    await sms_plan(store, sms=100)
    await sms_pack(store, quantity=1000, price="10")
    await store.packs.put("min300", at=T0, resource="voice_minutes", quantity=300, price=usd("6"))
    yield store
    await store.close()


async def call(store: Store, name: str, jid: str = A, now: datetime = T0, **raw: str) -> Any:
    """Parse the arguments as the chat adapter does, then run the handler."""
    command: Command = BY_NAME[name]
    account = await store.accounts.get(jid)
    ctx = Context(jid, role_of(account, False), account, store, CONFIG, now)
    assert command.allowed(ctx.role), f"{ctx.role} may not run {name}"
    args = {p.name: convert(p, raw[p.name], CONFIG) for p in command.params if p.name in raw}
    return await command.handler(ctx, args)


def test_the_commands_fit_one_registry() -> None:
    registry = Registry(credits.COMMANDS)
    assert registry.match(["autobuy", "sms1000", "on"])[0] is BY_NAME["autobuy"]
    assert [c.name for c in credits.COMMANDS] == ["credits", "buy", "autobuy", "usage"]


async def test_buy_unblocks_at_once_and_credits_shows_what_is_left(store: Store) -> None:
    await customer(store, amount="40")  # $30 left after the first month
    reply = await call(store, "credits")
    assert "sms: none" in reply.text
    assert "sms1000: 1000 SMS for $10.00" in reply.text and "min300: 300 minutes" in reply.text
    await ingest(meter(store), events(A, 100), T0)
    reply = await call(store, "usage")
    assert "SMS: 100 of 100 from the allowance; 0 left" in reply.text
    assert "blocked until next month: send 'credits'" in reply.text
    reply = await call(store, "buy", pack="SMS1000")
    assert reply.text == (
        "Bought sms1000: 1000 sms credits, valid until 2027-03-02. Paid $10.00; balance $20.00."
    )
    reply = await call(store, "usage")
    assert "SMS: 100 of 100 from the allowance; 1000 left" in reply.text
    await ingest(meter(store), events(A, 40, prefix="more"), T0)
    reply = await call(store, "usage")
    assert "SMS: 100 of 100 from the allowance, 40 from credits; 960 left" in reply.text
    assert reply.table is not None and reply.table.rows[1] == ("sms", "100", "100", "40", "960")
    reply = await call(store, "credits")
    assert "sms: 1000\n  1000 until 2027-03-02 (pack sms1000)" in reply.text  # not settled yet


async def test_buy_without_the_money_is_refused_by_the_dispatcher_with_a_hint(
    store: Store,
) -> None:
    await customer(store, amount="20")  # $10 left
    await store.packs.put("big", at=T0, resource="sms", quantity=5000, price=usd("40"))
    dispatcher = Dispatcher(credits_registry(), store, CONFIG, clock=lambda: T0)
    reply = await dispatcher.chat(A, "buy big")
    assert reply is not None and "Reply 'yes' to confirm" in reply.text
    assert "$40.00 from your balance ($10.00)" in reply.text
    reply = await dispatcher.chat(A, "yes")
    assert reply is not None and reply.error == "payment-required"
    assert "$30.00 missing" in reply.text and "topup" in reply.text
    assert await store.credits.grants(A) == ()
    reply = await dispatcher.chat(A, "buy nothing-here")
    assert reply is not None and "There is no pack 'nothing-here'" in reply.text


def credits_registry() -> Registry:
    return Registry(credits.COMMANDS)


async def test_a_leaf_sees_its_usage_and_is_told_its_main_buys(store: Store) -> None:
    await customer(store)
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create(A)
    await store.accounts.register_trial(LEAF, T0, 30)
    await store.groups.join(index, A, LEAF, plan, at=T0)
    assert not BY_NAME["buy"].allowed(role_of(await store.accounts.get(LEAF), False))
    reply = await call(store, "credits", jid=LEAF)
    assert "bought by the account that pays for you" in reply.text
    await call(store, "buy", pack="sms1000")
    await ingest(meter(store), events(LEAF, 120), T0)
    reply = await call(store, "usage", jid=LEAF)
    assert "SMS: 100 of 100 from the allowance, 20 from credits; 980 left" in reply.text


async def test_autobuy_is_charged_at_every_renewal_at_the_snapshotted_price(store: Store) -> None:
    await customer(store, amount="60")  # $50 left; renews on the 2nd of each month
    reply = await call(store, "autobuy", pack="sms1000", state="on")
    assert "$10.00 at every renewal" in reply.text
    reply = await call(store, "autobuy", pack="sms1000", state="on")
    assert "was already on" in reply.text
    await store.packs.put("sms1000", at=T0, price=usd("12"))  # for new purchases only
    assert (
        "Autobuy: sms1000 (1000 SMS) for $10.00 at every renewal."
        in (await call(store, "credits")).text
    )
    cycle = cycle_of(store)
    april, may = T0 + days(31), T0 + days(61)
    for _ in range(2):  # a second run charges and grants nothing more
        await renew_account(cycle, A, april)
    invoice = await store.billing.invoice(A, "202604")
    assert invoice is not None
    assert [(ln.member, ln.amount) for ln in invoice.lines] == [
        (A, usd("10")),
        ("pack sms1000", usd("10")),
    ]
    grants = await store.credits.grants(A)
    assert [(g.id, g.quantity, f"{g.expires_at:%Y-%m-%d}") for g in grants] == [
        ("auto-202604-sms1000", 1000, "2027-04-02")
    ]
    assert (await store.ledger.balances(A)).total == usd("30")
    reply = await call(store, "autobuy", pack="sms1000", state="off", now=april)
    assert reply.text == "Autobuy of sms1000 is off."
    await renew_account(cycle, A, may)
    assert len(await store.credits.grants(A)) == 1
    entries = await store.ledger.entries(A)
    granted = of_kind(entries, EntryKind.CREDITS)
    assert [e.reason for e in granted] == ["pack sms1000 renewed: 1000 sms, valid until 2027-04-02"]
    charged = [e.reason for e in of_kind(entries, EntryKind.CHARGE)]
    assert "credits 2026-04 for pack sms1000" in charged
    assert await store.ledger.check(A) == []
    assert await store.schedules.at(keys.CREDIT_EXPIRIES, A) is not None


async def test_history_shows_purchases_usage_and_credits_used_by_month(store: Store) -> None:
    await customer(store)
    await call(store, "buy", pack="sms1000")
    await ingest(meter(store), events(A, 130), T0)
    await settle_account(meter(store), A, T0)
    await settle_account(meter(store), A, next_month(T0))  # writes March's credits used
    history = next(c for c in user.COMMANDS if c.name == "history")
    account = await store.accounts.get(A)
    ctx = Context(A, role_of(account, False), account, store, CONFIG, T0)
    reply = await history.handler(ctx, {})
    lines = reply.text.splitlines()
    assert any("pack sms1000: 1000 sms, valid until 2027-03-02" in line for line in lines)
    assert any(
        "credits_used  30 sms credits used in 2026-03 (pack sms1000" in line for line in lines
    )


async def test_the_bots_registry_serves_the_credit_commands_by_chat(store: Store) -> None:
    await customer(store, amount="40")
    dispatcher = Dispatcher(build_registry(), store, CONFIG, clock=lambda: T0)
    reply = await dispatcher.chat(A, "help more")
    assert reply is not None
    for usage in ("credits — ", "buy PACK — ", "autobuy PACK on|off — ", "usage [MONTH] — "):
        assert usage in reply.text
    reply = await dispatcher.chat(A, "USAGE")
    assert reply is not None and reply.text.startswith("Usage 2026-03:\nminutes: 0 of 300")
    reply = await dispatcher.chat(A, "autobuy sms1000 maybe")
    assert reply is not None and reply.error == "bad-request" and "on or off" in reply.text
    reply = await dispatcher.chat(A, "buy sms1000")
    assert reply is not None and "Reply 'yes'" in reply.text
    reply = await dispatcher.chat(A, "yes")
    assert reply is not None and reply.text.startswith("Bought sms1000")

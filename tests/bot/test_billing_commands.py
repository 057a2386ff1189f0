"""The billing bot commands, called as the bot calls them, over a real store (no XMPP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import pytest

from bot.commands import billing
from bot.commands.model import Command, Context, Registry, Reply, convert, role_of
from payments.accounts.records import FreezeKind
from payments.billing.freezes import freeze_unpaid
from payments.billing.renewal import renew_account
from payments.config import Config
from payments.ledger.records import EntryKind
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import (
    T0,
    account_of,
    basic_plan,
    cycle_of,
    days,
    kinds,
    paid_account,
    usd,
)

A, OP = "alice@example.org", "admin@example.org"
CONFIG = Config()
BY_NAME = {c.name: c for c in billing.COMMANDS}


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    await basic_plan(store, "10")
    await store.plans.put(
        "plus", at=T0, price=usd("25"), name="Plus", allowances={"sms": 500, "voice_minutes": 300}
    )
    yield store
    await store.close()


async def context(store: Store, jid: str = A, now: datetime = T0) -> Context:
    account = await store.accounts.get(jid)
    return Context(jid, role_of(account, jid == OP), account, store, CONFIG, now)


async def confirmation(name: str, ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    """The question the command asks before acting (or the reply when there is nothing to do)."""
    confirm = BY_NAME[name].confirm
    assert confirm is not None, f"{name} asks no confirmation"
    return await confirm(ctx, args)


async def call(
    store: Store, name: str, jid: str = A, now: datetime = T0, **raw: str
) -> tuple[Any, Context]:
    """Parse the arguments as the chat adapter does, then run the handler."""
    command: Command = BY_NAME[name]
    ctx = await context(store, jid, now)
    assert command.allowed(ctx.role), f"{ctx.role} may not run {name}"
    args = {p.name: convert(p, raw[p.name], CONFIG) for p in command.params if p.name in raw}
    return await command.handler(ctx, args), ctx


def test_the_commands_fit_one_registry() -> None:
    registry = Registry(billing.COMMANDS)
    assert registry.match(["admin", "price", "basic", "12"])[0] is BY_NAME["admin price"]
    assert registry.match(["plan", "plus"])[0] is BY_NAME["plan"]
    assert registry.match(["plans"])[0] is BY_NAME["plans"]


async def test_plans_lists_prices_allowances_and_yours(store: Store) -> None:
    reply, _ = await call(store, "plans", jid="stranger@example.org")
    assert reply.text.splitlines()[1:] == [
        "basic: Basic, $10.00",
        "plus: Plus, $25.00 with 300 minutes, 500 SMS",
    ]
    await paid_account(store, A, T0, "20")
    reply, _ = await call(store, "plans")
    assert "basic: Basic, $10.00 (yours)" in reply.text
    assert reply.text.endswith("To choose one, send its id: 'plan plus'.")
    assert reply.table is not None and len(reply.table.rows) == 2


async def test_plan_applies_at_the_next_renewal(store: Store) -> None:
    await paid_account(store, A, T0, "40")
    reply, _ = await call(store, "plan", id="PLUS")
    assert reply.text == "Plus ($25.00 a month) starts at your next renewal, on 2026-02-05."
    reply, _ = await call(store, "plans")
    assert "plus: Plus, $25.00 with 300 minutes, 500 SMS (from your next renewal)" in reply.text
    await renew_account(cycle_of(store), A, T0 + days(31))
    assert (await account_of(store, A)).plan == "plus"
    assert (await store.ledger.balances(A)).prepaid == usd("5")
    reply, _ = await call(store, "plan", id="plus")
    assert reply.text.startswith("You stay on Plus")
    reply, _ = await call(store, "plan", id="gold")
    assert reply.error == "item-not-found" and "'plans'" in reply.text


async def test_a_trial_with_the_money_already_in_activates_on_choosing(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    reply, _ = await call(store, "plan", id="plus")
    assert reply.text == (
        "Plus ($25.00 a month) starts once your balance reaches $20.00."
        " You have $0.00: top up $20.00 more with 'topup'."
    )
    await store.ledger.credit(A, usd("30"), reason="credited before any flow")
    reply, _ = await call(store, "plan", id="plus", now=T0 + days(1))
    assert reply.text == "Your account is now on Plus ($25.00 a month). The first month is paid."
    assert (await store.ledger.balances(A)).prepaid == usd("5")


async def test_a_leaf_cannot_choose(store: Store) -> None:
    await paid_account(store, "main@example.org", T0, "20")
    plan = await store.plans.get("basic")
    assert plan is not None
    index = await store.groups.create("main@example.org")
    await store.groups.join(index, "main@example.org", A, plan, at=T0)
    account = await store.accounts.get(A)
    ctx = Context(A, role_of(account, False), account, store, CONFIG, T0)
    reply = await BY_NAME["plan"].handler(ctx, {"id": "plus"})
    assert reply.error == "forbidden"
    assert not BY_NAME["pay"].allowed(ctx.role) and not BY_NAME["invoices"].allowed(ctx.role)


async def test_invoices_and_pay_settle_and_unfreeze(store: Store) -> None:
    await paid_account(store, A, T0, "20")
    await store.ledger.debit(A, usd("6"), reason="spent", kind=EntryKind.DEBIT)
    cycle = cycle_of(store)
    await renew_account(cycle, A, T0 + days(31))
    await freeze_unpaid(cycle, A, T0 + days(38))
    reply, ctx = await call(store, "invoices", now=T0 + days(39))
    assert reply.text.splitlines() == [
        "Invoices, newest first:",
        "2026-02: $6.00 due of $10.00 (basic $10.00)",
        "2026-01: paid $10.00 (basic $10.00)",
        "You owe $6.00. Send 'pay' to pay from your balance.",
    ]
    assert "is due" in await billing.frozen_line(ctx)
    question = await confirmation("pay", ctx, {})
    assert question == "Pay $6.00 of open invoices from your balance ($0.00)?"
    reply, _ = await call(store, "pay", now=T0 + days(39))
    assert (
        reply.text == "Your balance lacks $6.00 for the next invoice: send 'topup'. Balance: $0.00."
    )
    await store.ledger.credit(A, usd("8"), reason="credited by hand")
    reply, ctx = await call(store, "pay", now=T0 + days(40))
    assert reply.text == (
        "Paid invoice 2026-02: $6.00. Your account is no longer frozen. Balance: $2.00."
    )
    assert await billing.frozen_line(ctx) == ""  # ctx.account was read before paying
    reply, ctx = await call(store, "pay", now=T0 + days(40))
    assert isinstance(await confirmation("pay", ctx, {}), type(reply))
    assert await kinds(store, A) == [
        "plan_activated",
        "renewal_failed",
        "frozen",
        "invoice_paid",
        "unfrozen",
    ]


async def test_admin_price_makes_a_version_and_accounts_keep_theirs(store: Store) -> None:
    await paid_account(store, A, T0, "30")
    ctx = await context(store, OP)
    question = await confirmation("admin price", ctx, {"id": "basic", "amount": usd("12")})
    assert (
        question
        == "Set basic to $12.00 a month (now $10.00)? Accounts keep the price they bought at."
    )
    reply, _ = await call(store, "admin price", jid=OP, id="basic", amount="12")
    assert reply.text == "basic version 2: $12.00 a month for new purchases."
    reply, _ = await call(store, "admin price", jid=OP, id="nope", amount="12")
    assert reply.error == "item-not-found"
    await renew_account(cycle_of(store), A, T0 + days(31))
    assert (await store.ledger.balances(A)).prepaid == usd("10")


async def test_admin_freeze_and_unfreeze(store: Store) -> None:
    await paid_account(store, A, T0, "20")
    command = BY_NAME["admin freeze"]
    ctx = await context(store, OP)
    args = {"jid": A, "kind": "violation", "reason": "spam calls"}
    assert await confirmation("admin freeze", ctx, args) == f"Freeze {A} (violation: spam calls)?"
    assert (await command.handler(ctx, args)).text == f"{A} is frozen (violation)."
    assert (await command.handler(ctx, args)).text == f"{A} was already frozen (violation)."
    missing = await command.handler(ctx, {**args, "jid": "nobody@example.org"})
    assert missing.error == "item-not-found"
    line = await billing.frozen_line(await context(store, A))
    assert line == "Your account is frozen by an operator: spam calls"
    lift = BY_NAME["admin unfreeze"]
    reply = await lift.handler(ctx, {"jid": A, "kind": "legal"})
    assert reply.error == "item-not-found"
    reply = await lift.handler(ctx, {"jid": A, "kind": "violation"})
    assert reply.text == f"Lifted the violation freeze of {A} (set by {OP}: spam calls)."
    assert (await account_of(store, A)).freezes == frozenset()
    assert (await kinds(store, A))[-2:] == ["frozen", "unfrozen"]
    assert FreezeKind.VIOLATION.value in billing.KIND.choices

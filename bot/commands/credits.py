"""Credit commands: ``credits``, ``buy PACK``, ``autobuy PACK on|off`` and ``usage``.

Handlers call ``payments.usage.flow`` (the flows) and never Redis directly.
Credits are counted in units of their resource (SMS, minutes), not money:
only ``buy`` (and a recurring pack at renewal) moves money.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import (
    PAYERS,
    USERS,
    Command,
    Context,
    Param,
    ParamKind,
    Reply,
    Role,
    Table,
)
from bot.commands.usage_months import usage_of_month
from payments.accounts.records import AccountKind
from payments.catalog.records import Pack, UnknownPack
from payments.clock import month_label
from payments.money import format_money
from payments.usage import flow as metering
from payments.usage.credits import AutoBuy, Grant, by_expiry
from payments.usage.flow import Meter, MonthView
from payments.usage.texts import resource_name, usage_line

NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."


async def pack_options(ctx: Context) -> list[tuple[str, str]]:
    """The packs on offer, as a pick-list: (id, "500 SMS for $5.00")."""
    return [(p.id, _pack_offer(p)) for p in await ctx.store.packs.offered(ctx.currency)]


PACK = Param("pack", "one of the packs on offer ('credits')", label="Pack", options=pack_options)


def meter_of(ctx: Context) -> Meter:
    return Meter(ctx.store, ctx.config.usage, ctx.jid)


def _pack_offer(pack: Pack) -> str:
    return f"{pack.quantity} {resource_name(pack.resource)} for {format_money(pack.price)}"


def _grant_line(grant: Grant) -> str:
    return f"  {grant.left} until {grant.expires_at:%Y-%m-%d} (pack {grant.pack})"


async def credits(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if ctx.account is not None and ctx.account.kind is AccountKind.LEAF:
        return Reply(
            "Your credits are bought by the account that pays for you. "
            "Send 'usage' to see what is left this month."
        )
    grants = [g for g in by_expiry(await ctx.store.credits.grants(ctx.jid)) if g.live(ctx.now)]
    lines = ["Credits (used once the monthly allowance is used up):"]
    for resource in ctx.config.usage.resources:
        mine = [g for g in grants if g.resource == resource]
        total = sum(g.left for g in mine)
        lines.append(f"{resource}: {total}" if total else f"{resource}: none")
        lines += [_grant_line(g) for g in mine]
    lines += [_autobuy_line(a) for a in await ctx.store.credits.autobuys(ctx.jid)]
    catalog = await ctx.store.packs.offered(ctx.currency)
    if catalog:
        lines.append(f"Packs on offer, valid {ctx.config.usage.credit_days} days:")
        lines += [f"{p.id}: {_pack_offer(p)}" for p in catalog]
        lines.append(f"To buy one, send 'buy {catalog[0].id}' (or 'autobuy ... on': every month).")
    rows = tuple(
        (g.resource, str(g.left), str(g.quantity), f"{g.expires_at:%Y-%m-%d}", g.pack)
        for g in grants
    )
    return Reply("\n".join(lines), table=Table(("resource", "left", "of", "expires", "pack"), rows))


def _autobuy_line(auto: AutoBuy) -> str:
    what = f"{auto.quantity} {resource_name(auto.resource)}"
    return f"Autobuy: {auto.pack} ({what}) for {format_money(auto.price)} at every renewal."


async def confirm_buy(ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    pack = await ctx.store.packs.get_in(str(args["pack"]).strip().lower(), ctx.currency)
    if pack is None:
        return _no_pack(args["pack"])
    balance = (await ctx.store.ledger.balances(ctx.jid)).total
    days = ctx.config.usage.credit_days
    return (
        f"Buy {pack.id} ({pack.name}, valid {days} days) for {format_money(pack.price)} "
        f"from your balance ({format_money(balance)})?"
    )


def _no_pack(pack_id: object) -> Reply:
    return Reply(
        f"There is no pack '{pack_id}'. Send 'credits' to see them.", error="item-not-found"
    )


async def buy(ctx: Context, args: Mapping[str, Any]) -> Reply:
    """Raises InsufficientFunds (the dispatcher answers with 'topup') or BuyRefused."""
    pack_id = str(args["pack"]).strip().lower()
    try:
        done = await metering.buy_pack(meter_of(ctx), ctx.jid, pack_id, ctx.now, actor=ctx.jid)
    except UnknownPack:
        return _no_pack(args["pack"])
    grant, bought = done.grant, done.bought
    return Reply(
        f"Bought {grant.pack}: {grant.quantity} {grant.resource} credits, "
        f"valid until {grant.expires_at:%Y-%m-%d}. "
        f"Paid {format_money(bought.voucher + bought.prepaid)}; "
        f"balance {format_money(bought.balance)}."
    )


async def autobuy(ctx: Context, args: Mapping[str, Any]) -> Reply:
    pack_id, on = str(args["pack"]).strip().lower(), args["state"] == "on"
    try:
        auto, changed = await metering.set_autobuy(meter_of(ctx), ctx.jid, pack_id, on, ctx.now)
    except UnknownPack:
        return _no_pack(args["pack"])
    if not on:
        return Reply(
            f"Autobuy of {pack_id} is off." if changed else f"Autobuy of {pack_id} was not on."
        )
    assert auto is not None
    price = format_money(auto.price)
    if not changed:
        return Reply(f"Autobuy of {pack_id} was already on ({price} at every renewal).")
    return Reply(
        f"Autobuy of {pack_id} is on: {auto.quantity} {auto.resource} for {price} "
        "at every renewal, with your plan. Send 'autobuy "
        f"{pack_id} off' to stop."
    )


async def usage(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if args.get("month") and (past := await usage_of_month(ctx, *args["month"])) is not None:
        return past
    view: MonthView = await metering.month_usage(meter_of(ctx), ctx.jid, ctx.now)
    if not view.lines:
        return Reply(NO_ACCOUNT)
    lines = [f"Usage {month_label(view.month)}:", *(usage_line(line) for line in view.lines)]
    if ctx.account is not None and ctx.account.frozen:
        lines.append("Your account is frozen: every service is blocked.")
    elif ctx.account is not None and ctx.account.kind is AccountKind.TRIAL:
        activation = format_money(ctx.config.billing.activation_amount)
        lines.append(f"A top-up of {activation} gives you a plan; packs: send 'credits'.")
    elif any(line.left <= 0 for line in view.lines):
        fix = "ask the account that pays for you" if view.paid_by else "send 'credits'"
        lines.append(f"A service with nothing left is blocked until next month: {fix}.")
    rows = tuple(
        (
            line.resource,
            str(line.allowance),
            str(line.from_allowance),
            str(line.from_credits),
            str(line.left),
        )
        for line in view.lines
    )
    columns = ("resource", "allowance", "allowance used", "credits used", "left")
    return Reply("\n".join(lines), table=Table(columns, rows))


COMMANDS = [
    Command(
        "credits",
        "your credits and the packs on offer",
        USERS,
        credits,
        unavailable=NO_ACCOUNT,
        label="Credits",
    ),
    Command(
        "buy",
        "buy a credit pack from your balance",
        PAYERS,
        buy,
        (PACK,),
        confirm=confirm_buy,
        unavailable=NO_ACCOUNT,
        label="Buy a pack",
    ),
    Command(
        "autobuy",
        "buy a pack again at every renewal (on), or stop (off)",
        PAYERS,
        autobuy,
        (
            PACK,
            Param("state", "on or off", ParamKind.CHOICE, choices=("on", "off"), label="Autobuy"),
        ),
        unavailable=NO_ACCOUNT,
        label="Buy a pack every month",
    ),
    Command(
        "usage",
        "what you used this month, and what is left (MONTH: one of the twelve back)",
        USERS,
        usage,
        (
            Param(
                "month",
                "YYYY-MM, like 2026-03 (default: this month)",
                ParamKind.MONTH,
                required=False,
                label="Month",
            ),
        ),
        unavailable=NO_ACCOUNT,
        label="Usage",
        first=frozenset({Role.TRIAL, Role.PAID, Role.LEAF}),
    ),
]

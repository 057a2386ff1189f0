"""``currency [CODE]``: the currency an account counts in, chosen before its first money.

Handlers call ``payments.accounts.currency`` (docs/billing.md, Currencies).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import PAYERS, Command, Context, Param, Reply
from payments.accounts.currency import CurrencySet, choose_currency, parse_currency
from payments.money import Money, format_money

NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."


async def currency_options(ctx: Context) -> list[tuple[str, str]]:
    """The currencies on offer, as a pick-list: (code, "CAD: CA$20.00")."""
    return [(code, f"{code}: {_example(code)}") for code in ctx.config.billing.currencies]


def _example(code: str) -> str:
    return format_money(Money.whole(20, code))


async def currency(ctx: Context, args: Mapping[str, Any]) -> Reply:
    offered = ctx.config.billing.currencies
    if not args.get("code"):
        return Reply(await _where(ctx, offered))
    code = parse_currency(str(args["code"]), offered)  # UnknownCurrency: what is offered
    status = await choose_currency(ctx.store, ctx.jid, code)  # NotAllowed: why not
    if status is CurrencySet.ALREADY:
        return Reply(f"Your account counts in {code} already.")
    activation = format_money(ctx.config.in_currency(code).billing.activation_amount)
    return Reply(
        f"Your account counts in {code} now: amounts read like {_example(code)}. Your first "
        f"payment fixes it. A top-up of {activation} or more makes it a paid account."
    )


async def _where(ctx: Context, offered: tuple[str, ...]) -> str:
    text = f"Your account counts in {ctx.currency}."
    if await ctx.store.ledger.money_arrived(ctx.jid):
        return text + " Money arrived in it: that cannot change."
    others = [c for c in offered if c != ctx.currency]
    if not others:
        return text
    return (
        text
        + f" Until your first payment you may choose {' or '.join(others)}: "
        + (f"send 'currency {others[0]}'.")
    )


COMMANDS = [
    Command(
        "currency",
        "the currency your account counts in (CODE: choose it, before your first payment)",
        PAYERS,
        currency,
        (
            Param(
                "code",
                "a currency code, like CAD",
                required=False,
                label="Currency",
                options=currency_options,
            ),
        ),
        unavailable=NO_ACCOUNT,
        label="Currency",
    ),
]

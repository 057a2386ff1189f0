"""Operator commands: inspect and fix accounts from an XMPP client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import OPERATORS, Command, Context, Param, ParamKind, Reply
from payments.ledger.records import EntryKind, describe_entry
from payments.money import Money, format_exact
from payments.topup.flow import operator_credit

SHOW_ENTRIES = 10
TARGET = Param("jid", "the account, like name@example.org", ParamKind.JID, label="Account")
AMOUNT = Param("amount", "like 20 or 20.50", ParamKind.AMOUNT, label="Amount")
REASON = Param("reason", "written to the ledger", rest=True, label="Reason")


async def show(ctx: Context, args: Mapping[str, Any]) -> Reply:
    jid = args["jid"]
    account = await ctx.store.accounts.get(jid)
    balances = await ctx.store.ledger.balances(jid)
    entries = await ctx.store.ledger.entries(jid, newest_first=True, count=SHOW_ENTRIES)
    number = await ctx.store.numbers.of(jid)
    if account is None:
        state = "no account"
    else:
        state = f"{account.kind.value}, {account.status.value}, plan {account.plan}"
        state += f", counts in {account.currency}"
        state += f", number {number}" if number else ", no number"
        if account.frozen:
            state += ", frozen: " + ", ".join(sorted(k.value for k in account.freezes))
    lines = [
        f"{jid}: {state}",
        f"prepaid {format_exact(balances.prepaid)}, voucher {format_exact(balances.voucher)}",
    ]
    lines += [describe_entry(e) for e in entries] or ["ledger: empty"]
    return Reply("\n".join(lines))


async def amount_for(ctx: Context, args: Mapping[str, Any]) -> Money:
    """The amount typed, in the target account's currency (an operator types the number)."""
    return Money(args["amount"].units, await ctx.store.currencies.of(args["jid"]))


async def confirm_credit(ctx: Context, args: Mapping[str, Any]) -> str:
    amount = format_exact(await amount_for(ctx, args))
    return f"Credit {amount} to {args['jid']} ({args['reason']})?"


async def confirm_debit(ctx: Context, args: Mapping[str, Any]) -> str:
    amount = format_exact(await amount_for(ctx, args))
    return f"Debit {amount} from {args['jid']} ({args['reason']})?"


async def credit(ctx: Context, args: Mapping[str, Any]) -> Reply:
    jid, amount = args["jid"], await amount_for(ctx, args)
    outcome = await operator_credit(
        ctx.store,
        jid,
        amount,
        reason=args["reason"],
        actor=ctx.jid,
        policy=ctx.config.billing,
        at=ctx.now,
    )
    await ctx.store.durability.confirm([jid])  # "credited" only once it is safe
    after = format_exact(outcome.applied.balance_after)
    return Reply(f"Credited {format_exact(amount)} to {jid}. Balance: {after}.")


async def debit(ctx: Context, args: Mapping[str, Any]) -> Reply:
    jid, amount = args["jid"], await amount_for(ctx, args)
    applied = await ctx.store.ledger.debit(
        jid, amount, reason=args["reason"], kind=EntryKind.DEBIT, actor=ctx.jid, at=ctx.now
    )
    await ctx.store.durability.confirm([jid])
    after = format_exact(applied.balance_after)
    return Reply(f"Debited {format_exact(amount)} from {jid}. Balance: {after}.")


COMMANDS = [
    Command(
        "admin show",
        "an account's state, balances and ledger",
        OPERATORS,
        show,
        (TARGET,),
        label="Show an account",
        first=OPERATORS,
    ),
    Command(
        "admin credit",
        "add to a prepaid balance",
        OPERATORS,
        credit,
        (TARGET, AMOUNT, REASON),
        confirm=confirm_credit,
        label="Credit an account",
        first=OPERATORS,
    ),
    Command(
        "admin debit",
        "take from a prepaid balance",
        OPERATORS,
        debit,
        (TARGET, AMOUNT, REASON),
        confirm=confirm_debit,
        label="Debit an account",
    ),
]

"""``move NEWJID``, ``claim CODE`` and ``admin move OLD NEW``: an account to a new JID.

Both sides consent: the old JID asks, the new JID claims the code sent to it.
Handlers call ``payments.moves.flow`` (docs/bot.md, Moving to a new JID); the reply
to ``move`` is the same whether or not the new JID could receive the account, and
every refused ``claim`` reads as any refused code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.commands.model import ANYONE, OPERATORS, USERS, Command, Context, Param, ParamKind, Reply
from payments.codes import REFUSAL, CodeRefused
from payments.moves.flow import MoveFlow, ask_move, claim, operator_move

NO_ACCOUNT: Final = "You have no account to move: send 'register' to start a trial."
NEW_JID = Param("jid", "the address to move to, like name@example.org", ParamKind.JID, label="To")


def _flow(ctx: Context) -> MoveFlow:
    return MoveFlow(ctx.store, ctx.config.billing, ctx.jid, usage=ctx.config.usage)


async def move(ctx: Context, args: Mapping[str, Any]) -> Reply:
    new, hours = args["jid"], ctx.config.billing.move_code_hours
    await ask_move(_flow(ctx), ctx.jid, new, ctx.now)
    return Reply(
        f"If {new} can receive your account, it was sent a code: send 'claim CODE' from "
        f"{new} within {hours} hours to move everything there (this address then has no "
        "account). An address that is an account already cannot receive one."
    )


async def claim_move(ctx: Context, args: Mapping[str, Any]) -> Reply:
    attempts = ctx.config.bot.code_attempts_per_hour
    try:
        moved = await claim(_flow(ctx), ctx.jid, args["code"], ctx.now, attempts=attempts)
    except CodeRefused:
        return Reply(REFUSAL, error="not-acceptable")
    return Reply(
        f"The account of {moved.old} is yours now: its balance, plan, number, invoices and "
        "credits. Send 'balance' to see it."
    )


async def admin_move(ctx: Context, args: Mapping[str, Any]) -> Reply:
    old, new = args["jid"], args["new"]
    await operator_move(_flow(ctx), old, new, ctx.now)
    return Reply(f"Moved the account of {old} to {new}; {old} has no account now.")


async def confirm_admin_move(ctx: Context, args: Mapping[str, Any]) -> str:
    return f"Move the account of {args['jid']} to {args['new']}, without codes?"


COMMANDS = [
    Command(
        "move",
        "move your account to another address (it must claim the code sent to it)",
        USERS,
        move,
        (NEW_JID,),
        unavailable=NO_ACCOUNT,
        label="Move my account",
    ),
    Command(
        "claim",
        "take over an account that asked to move here (the code it sent)",
        ANYONE,
        claim_move,
        (Param("code", "the code sent by 'move'", ParamKind.CODE, label="Code"),),
        label="Claim a moving account",
    ),
    Command(
        "admin move",
        "move an account to another address, without codes",
        OPERATORS,
        admin_move,
        (
            Param("jid", "the account, like name@example.org", ParamKind.JID, label="Account"),
            Param("new", "its new address", ParamKind.JID, label="New address"),
        ),
        confirm=confirm_admin_move,
        label="Move an account",
    ),
]

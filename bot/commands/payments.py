"""Payment commands: ``topup [AMOUNT]`` (a personal link) and ``redeem CODE`` (a voucher)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import PAYERS, Command, Context, Param, ParamKind, Reply, Role
from payments.codes import REFUSAL, CodeRefused
from payments.money import InvalidAmount, format_money
from payments.topup.flow import activation_hint, check_topup, redeem_voucher
from payments.web.links import topup_url

NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."


async def topup(ctx: Context, args: Mapping[str, Any]) -> Reply:
    amount = args.get("amount")
    if amount is not None:
        try:
            check_topup(amount, ctx.config)
        except InvalidAmount as exc:
            return Reply(f"Amount: {exc}. Usage: topup [AMOUNT]", error="bad-request")
    url = topup_url(ctx.config, ctx.jid, ctx.now, amount)
    what = f"Pay {format_money(amount)}" if amount is not None else "Top up"
    minutes = ctx.config.web.link_ttl_minutes
    said = f"{what} here (your personal link, valid {minutes} minutes): {url}"
    hint = await activation_hint(ctx.store, ctx.jid, amount, ctx.config.billing)
    return Reply(f"{hint}\n{said}" if hint else said, url=url)


async def redeem(ctx: Context, args: Mapping[str, Any]) -> Reply:
    try:
        done = await redeem_voucher(
            ctx.store,
            ctx.jid,
            str(args["code"]),
            now=ctx.now,
            attempts_per_hour=ctx.config.bot.code_attempts_per_hour,
            policy=ctx.config.billing,
        )
    except CodeRefused:
        return Reply(REFUSAL, error="not-acceptable")
    return Reply(
        f"Voucher redeemed: {format_money(done.amount)} added to your voucher balance. "
        f"Balance: {format_money(done.balance)}."
    )


COMMANDS = [
    Command(
        "topup",
        "a link to add money (card, Bitcoin...)",
        PAYERS,
        topup,
        (
            Param(
                "amount",
                "how much, like 25 or 25.50",
                ParamKind.AMOUNT,
                required=False,
                label="Amount",
            ),
        ),
        unavailable=NO_ACCOUNT,
        label="Top up",
        first=frozenset({Role.TRIAL, Role.PAID}),
    ),
    Command(
        "redeem",
        "add a voucher code to your voucher balance",
        PAYERS,
        redeem,
        # Free text, not ParamKind.CODE: every refusal, even of a malformed
        # code, must read the same (and a code may be typed with spaces).
        (Param("code", "the voucher code", ParamKind.TEXT, rest=True, label="Voucher code"),),
        unavailable=NO_ACCOUNT,
        label="Redeem a voucher",
    ),
]

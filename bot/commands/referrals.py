"""``refer``: a paid account's referral code and what it brought; ``register CODE`` with it.

Distinct from ``invite`` (bot/commands/groups.py), whose code makes the newcomer a
leaf paid for by the inviter: a referral code gives the newcomer a longer trial of
its own, and the referrer a reward once the newcomer's first payment has settled.
Handlers call ``payments.referrals.flow`` (docs/billing.md, Referral rewards).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from bot.commands import groups
from bot.commands.model import Command, Context, Reply, Role, Table
from payments.billing.cycle import Cycle
from payments.clock import day_label
from payments.codes import REFER_CODES, REFUSAL, CodeRefused
from payments.money import format_money
from payments.referrals.flow import my_code, register_referred

MAINS: Final = frozenset({Role.PAID})
NOT_MAIN: Final = "Only a paid account has a referral code: top up to activate yours."


async def refer(ctx: Context, args: Mapping[str, Any]) -> Reply:
    mine = await my_code(ctx.store, ctx.config.billing, ctx.jid, ctx.now)
    shown, stats, days = REFER_CODES.display(mine.code), mine.stats, ctx.config.referral.trial_days
    lines = [
        f"Your referral code: {shown}",
        f"Whoever sends 'register {shown}' to {ctx.config.xmpp.jid} gets a {days}-day trial. "
        f"Once their first payment has settled, {format_money(mine.reward)} (a month of your "
        "plan) is added to your voucher balance, once per person.",
        f"Signed up with it: {stats.signups}. Rewards paid: {stats.rewards}."
        + (f" Withheld (payment taken back): {stats.withheld}." if stats.withheld else ""),
    ]
    rows = ((shown, str(stats.signups), str(stats.rewards), str(stats.withheld)),)
    table = Table(("code", "signed up", "rewards paid", "withheld"), rows)
    return Reply("\n".join(lines), table=table)


async def register_with_code(ctx: Context, code: str) -> Reply:
    """``register CODE``: a referral code (a trial of one's own), else an invitation's code
    (an account paid for by whoever gave it: ``groups.register_with_code``)."""
    if REFER_CODES.normalise(code) is None:
        return await groups.register_with_code(ctx, code)
    cycle = Cycle(ctx.store, ctx.config.billing, ctx.jid)
    try:
        await register_referred(
            cycle, ctx.jid, code, ctx.now,
            attempts=ctx.config.bot.code_attempts_per_hour, referral=ctx.config.referral,
        )  # fmt: skip
    except CodeRefused:
        return Reply(REFUSAL, error="not-acceptable")
    days = ctx.config.referral.trial_days
    until = day_label(ctx.now + timedelta(days=days))
    activation = format_money(ctx.config.billing.activation_amount)
    return Reply(
        f"Welcome! Your {days}-day trial runs until {until}. "
        f"A top-up of {activation} or more makes it a paid account: send 'topup'."
    )


COMMANDS = [
    Command(
        "refer",
        "your referral code: a newcomer gets a longer trial, you a month of your plan",
        MAINS,
        refer,
        unavailable=NOT_MAIN,
        label="Refer someone",
    ),
]

"""Commands for everyone and for account holders: help, register, balance, history, plans."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.commands import referrals
from bot.commands.model import (
    ANYONE,
    STRANGERS,
    USERS,
    Command,
    Context,
    Param,
    ParamKind,
    Reply,
    Role,
    Table,
)
from payments.accounts.records import AccountKind
from payments.ledger.records import describe_entry
from payments.money import format_money

HISTORY_MONTHS = 12
HISTORY_LINES = 30
MORE = "Every command: send 'help more'."


async def help_(ctx: Context, args: Mapping[str, Any]) -> Reply:
    """What this user can do now, within a phone screen; the rest is in ``help more``."""
    commands = [c for c in _commands(ctx) if ctx.role in c.first]
    head = "You can send:" if ctx.role is not Role.STRANGER else "You have no account yet. Send:"
    lines = [head, *(f"{c.usage()} — {c.help}" for c in commands), MORE]
    return Reply("\n".join(lines), table=_table(commands))


async def help_more(ctx: Context, args: Mapping[str, Any]) -> Reply:
    """Every command this user may run (a list they asked for)."""
    commands = _commands(ctx)
    lines = ["Every command you can send:", *(f"{c.usage()} — {c.help}" for c in commands)]
    return Reply("\n".join(lines), table=_table(commands))


def _commands(ctx: Context) -> list[Command]:
    return ctx.registry.for_role(ctx.role) if ctx.registry else []


def _table(commands: list[Command]) -> Table:
    return Table(("command", "what it does"), tuple((c.usage(), c.help) for c in commands))


async def register(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if args.get("code"):  # a referral code, or an invitation to be paid for by its giver
        return await referrals.register_with_code(ctx, str(args["code"]))
    days = ctx.config.billing.trial_days
    created = await ctx.store.accounts.register_trial(ctx.jid, ctx.now, days)
    if not created:
        return Reply("You already have an account. Send 'balance' to see it.")
    until = (ctx.now + timedelta(days=days)).date().isoformat()
    activation = format_money(ctx.config.billing.activation_amount)
    return Reply(
        f"Welcome! Your {days}-day trial runs until {until}. "
        f"A top-up of {activation} or more makes it a paid account: send 'topup'."
    )


async def balance(ctx: Context, args: Mapping[str, Any]) -> Reply:
    """Money, plan and, for a leaf, who pays. A leaf keeps no money of its own, but money
    paid to it before it joined stays its: shown when not zero (docs/groups.md)."""
    account = ctx.account
    if account is None:
        return Reply("You have no account yet: send 'register' to start a trial.")
    balances = (
        ctx.balances if ctx.balances is not None else await ctx.store.ledger.balances(ctx.jid)
    )
    leaf = account.kind is AccountKind.LEAF
    lines = [] if leaf and not balances.prepaid else [f"Balance: {format_money(balances.prepaid)}"]
    if balances.voucher:
        lines.append(f"Voucher balance: {format_money(balances.voucher)}")
    lines.append(await _plan_line(ctx))
    if leaf:
        main = (await _snapshot(ctx)).get("paid_by", "")
        lines.append(f"Your account is paid for by {main or 'another account'}.")
    return Reply("\n".join(lines))


async def _snapshot(ctx: Context) -> Mapping[str, str]:
    """The plan in force: read with the request (chat), else now."""
    if ctx.plan_snapshot is not None:
        return ctx.plan_snapshot
    return await ctx.store.accounts.plan_snapshot(ctx.jid)


async def _plan_line(ctx: Context) -> str:
    account = ctx.account
    assert account is not None
    if account.kind is AccountKind.TRIAL:
        until = _day(account.trial_ends_at)
        return f"Plan: trial until {until}." if until else "Plan: trial."
    snapshot = await _snapshot(ctx)
    price = ctx.money(int(snapshot.get("price", "0") or 0))
    version = int(snapshot.get("version", "0") or 0)
    plan = await ctx.store.plans.version_kept(account.plan, version)
    line = f"Plan: {plan.name if plan else account.plan}, {format_money(price)} a month."
    if account.next_renewal_at and account.kind is AccountKind.PAID:
        line += f" Next renewal: {_day(account.next_renewal_at)}."
    return line


def _day(when: datetime | None) -> str:
    return when.date().isoformat() if when else ""


async def history(ctx: Context, args: Mapping[str, Any]) -> Reply:
    year, month = args.get("month") or (ctx.now.year, ctx.now.month)
    months_back = (ctx.now.year - year) * 12 + (ctx.now.month - month)
    if not 0 <= months_back < HISTORY_MONTHS:
        oldest = _shift_month(ctx.now.year, ctx.now.month, -(HISTORY_MONTHS - 1))
        return Reply(
            f"History covers {oldest[0]:04d}-{oldest[1]:02d} to "
            f"{ctx.now.year:04d}-{ctx.now.month:02d}.",
            error="bad-request",
        )
    start = ctx.now.replace(
        year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    ny, nm = _shift_month(year, month, 1)
    entries = await ctx.store.ledger.entries_between(
        ctx.jid, start, start.replace(year=ny, month=nm)
    )
    label = f"{year:04d}-{month:02d}"
    if not entries:
        return Reply(f"No entries in {label}.")
    shown = entries[-HISTORY_LINES:]
    lines = [f"{label}, {len(entries)} entries:"]
    if len(entries) > len(shown):
        lines.append(f"(the last {len(shown)} shown)")
    lines += [describe_entry(e, with_actor=False) for e in shown]
    rows = tuple(
        (e.at.date().isoformat(), format_money(e.amount), e.kind.value, e.reason) for e in shown
    )
    return Reply("\n".join(lines), table=Table(("date", "amount", "kind", "reason"), rows))


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


COMMANDS = [
    Command(
        "help",
        "what you can do now",
        ANYONE,
        help_,
        label="Help",
    ),
    Command("help more", "every command you can send", ANYONE, help_more, label="All commands"),
    Command(
        "register",
        "start a free trial (with a CODE: someone pays for you)",
        STRANGERS,
        register,
        (
            Param(
                "code",
                "a referral code, if you have one",
                required=False,
                rest=True,
                label="Referral code",
            ),
        ),
        unavailable="You already have an account. Send 'balance' to see it.",
        label="Start a trial",
        first=STRANGERS,
    ),
    Command(
        "balance",
        "money, plan and renewal",
        USERS,
        balance,
        unavailable="You have no account yet: send 'register' to start a trial.",
        label="Balance",
        first=frozenset({Role.TRIAL, Role.PAID, Role.LEAF}),
    ),
    Command(
        "history",
        "payments and charges of a month",
        USERS,
        history,
        (
            Param(
                "month",
                "YYYY-MM, like 2026-03 (default: this month)",
                ParamKind.MONTH,
                required=False,
                label="Month",
            ),
        ),
        unavailable="You have no account yet: send 'register' to start a trial.",
        label="History",
    ),
]

"""Billing commands: plans, choosing one, invoices, paying them; operators' prices and freezes.

Handlers call ``payments`` (``payments.billing.cycle`` for the flows) and never Redis
directly. ``frozen_line`` gives the one line a frozen account reads on every
interaction (the dispatcher adds it to each reply).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import (
    ANYONE,
    OPERATORS,
    PAYERS,
    Command,
    Context,
    Param,
    ParamKind,
    Reply,
    Role,
    Table,
)
from payments.accounts.freeze_store import Frozen
from payments.accounts.records import FreezeKind
from payments.billing import choice as choice_flow
from payments.billing import freezes, payment
from payments.billing.choice import UnknownPlan, choice_said
from payments.billing.cycle import Cycle
from payments.billing.rules import Invoice
from payments.catalog.records import Plan
from payments.clock import month_label
from payments.errors import NotAllowed
from payments.money import Money, format_money
from payments.usage.texts import quantities

NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."
INVOICES_SHOWN = 12
TARGET = Param("jid", "the account, like name@example.org", ParamKind.JID, label="Account")
KIND = Param(
    "kind",
    "billing, violation or legal",
    ParamKind.CHOICE,
    choices=tuple(k.value for k in FreezeKind),
    label="Kind of freeze",
)


async def plan_options(ctx: Context) -> list[tuple[str, str]]:
    """The plans on offer, as a pick-list: (id, "Basic, $10.00 a month")."""
    return [
        (p.id, f"{p.name}, {format_money(p.price)} a month")
        for p in await ctx.store.plans.offered(ctx.currency)
    ]


PLAN_ID = Param("id", "one of the plans on offer ('plans')", label="Plan", options=plan_options)


def cycle_of(ctx: Context) -> Cycle:
    return Cycle(ctx.store, ctx.config.billing, ctx.jid)


async def frozen_line(ctx: Context) -> str:
    """'' unless the asker is frozen; then why, what is due and the command that fixes it."""
    if ctx.account is None or not ctx.account.frozen:
        return ""
    return await freezes.frozen_line(cycle_of(ctx), ctx.jid)


def _allowances(plan: Plan, ctx: Context) -> str:
    return quantities(plan.allowances, ctx.config.usage.resources)


async def plans(ctx: Context, args: Mapping[str, Any]) -> Reply:
    catalog = await ctx.store.plans.offered(ctx.currency)
    if not catalog:
        return Reply("No plans are on offer yet.")
    mine = ctx.account.plan if ctx.account is not None else ""
    chosen = ctx.account.next_plan if ctx.account is not None else ""
    lines = ["Plans, a month:"]
    for plan in catalog:
        line = f"{plan.id}: {plan.name}, {format_money(plan.price)}"
        line += f" with {_allowances(plan, ctx)}" if plan.allowances else ""
        line += " (yours)" if plan.id == mine else ""
        line += " (from your next renewal)" if plan.id == chosen else ""
        lines.append(line)
    other = next((p.id for p in reversed(catalog) if p.id not in (mine, chosen)), "")
    if ctx.role in (Role.TRIAL, Role.PAID) and other:
        lines.append(f"To choose one, send its id: 'plan {other}'.")
    rows = tuple((p.id, p.name, format_money(p.price), _allowances(p, ctx)) for p in catalog)
    return Reply("\n".join(lines), table=Table(("plan", "name", "a month", "includes"), rows))


async def choose_plan(ctx: Context, args: Mapping[str, Any]) -> Reply:
    try:
        choice = await choice_flow.choose_plan(cycle_of(ctx), ctx.jid, str(args["id"]), ctx.now)
    except UnknownPlan as exc:
        return Reply(str(exc), error="item-not-found")
    except NotAllowed as exc:
        return Reply(str(exc), error="forbidden")
    return Reply(choice_said(choice))


def _invoice_line(invoice: Invoice) -> str:
    month = month_label(invoice.period)
    members = ", ".join(
        (ln.plan if ln.member == invoice.jid else ln.member) + f" {format_money(ln.amount)}"
        for ln in invoice.lines
    )
    if invoice.open:
        return (
            f"{month}: {format_money(invoice.due)} due of {format_money(invoice.total)} ({members})"
        )
    return f"{month}: paid {format_money(invoice.total)} ({members})"


async def invoices(ctx: Context, args: Mapping[str, Any]) -> Reply:
    listed = await ctx.store.billing.invoices(ctx.jid, count=INVOICES_SHOWN)
    if not listed:
        return Reply("No invoices yet: the first comes with your first paid month.")
    owed = await ctx.store.billing.owed(ctx.jid)
    lines = ["Invoices, newest first:", *(_invoice_line(i) for i in listed)]
    if owed.units:
        lines.append(f"You owe {format_money(owed)}. Send 'pay' to pay from your balance.")
    rows = tuple(
        (month_label(i.period), i.status.value, format_money(i.total), format_money(i.due))
        for i in listed
    )
    return Reply("\n".join(lines), table=Table(("month", "status", "total", "due"), rows))


async def confirm_pay(ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    owed = await ctx.store.billing.owed(ctx.jid)
    if not owed.units:
        return Reply("You owe nothing.")
    balance = (await ctx.store.ledger.balances(ctx.jid)).total
    return f"Pay {format_money(owed)} of open invoices from your balance ({format_money(balance)})?"


async def pay(ctx: Context, args: Mapping[str, Any]) -> Reply:
    done = await payment.pay_invoices(cycle_of(ctx), ctx.jid, ctx.now)
    lines = [
        f"Paid invoice {month_label(s.period)}: {format_money(s.voucher + s.prepaid)}."
        for s in done.settled
    ]
    if done.missing is not None and done.missing.units:
        lines.append(
            f"Your balance lacks {format_money(done.missing)} for the next invoice: send 'topup'."
        )
    elif not done.settled:
        lines.append("You owe nothing.")
    if done.unfrozen:
        lines.append("Your account is no longer frozen.")
    balance = (await ctx.store.ledger.balances(ctx.jid)).total
    lines.append(f"Balance: {format_money(balance)}.")
    return Reply(" ".join(lines))


# --- operators ---------------------------------------------------------------


async def confirm_price(ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    plan = await ctx.store.plans.get(str(args["id"]).strip().lower())
    if plan is None:
        return Reply(f"There is no plan '{args['id']}'.", error="item-not-found")
    new, now = format_money(args["amount"]), format_money(plan.price)
    return f"Set {plan.id} to {new} a month (now {now})? Accounts keep the price they bought at."


async def price(ctx: Context, args: Mapping[str, Any]) -> Reply:
    plan_id = str(args["id"]).strip().lower()
    if await ctx.store.plans.get(plan_id) is None:
        return Reply(f"There is no plan '{args['id']}'.", error="item-not-found")
    amount = Money(args["amount"].units, ctx.store.currency)  # the default currency's price
    plan, changed = await ctx.store.plans.put(plan_id, at=ctx.now, price=amount)
    if not changed:
        return Reply(f"{plan.id} already costs {format_money(plan.price)} a month.")
    return Reply(
        f"{plan.id} version {plan.version}: {format_money(plan.price)} a month for new purchases."
    )


async def confirm_freeze(ctx: Context, args: Mapping[str, Any]) -> str:
    return f"Freeze {args['jid']} ({args['kind']}: {args['reason']})?"


async def freeze(ctx: Context, args: Mapping[str, Any]) -> Reply:
    jid, kind = args["jid"], FreezeKind(args["kind"])
    result = await freezes.operator_freeze(cycle_of(ctx), jid, kind, args["reason"], ctx.now)
    if result is Frozen.NO_ACCOUNT:
        return Reply(f"{jid} has no active account.", error="item-not-found")
    if result is Frozen.ALREADY:
        return Reply(f"{jid} was already frozen ({kind.value}).")
    return Reply(f"{jid} is frozen ({kind.value}).")


async def unfreeze(ctx: Context, args: Mapping[str, Any]) -> Reply:
    jid, kind = args["jid"], FreezeKind(args["kind"])
    lifted = await freezes.operator_unfreeze(cycle_of(ctx), jid, kind, ctx.now)
    if lifted is None:
        return Reply(f"{jid} has no {kind.value} freeze.", error="item-not-found")
    return Reply(f"Lifted the {kind.value} freeze of {jid} (set by {lifted.who}: {lifted.why}).")


COMMANDS = [
    Command(
        "plans",
        "the plans on offer",
        ANYONE,
        plans,
        label="Plans",
        first=frozenset({Role.STRANGER, Role.TRIAL}),
    ),
    Command(
        "plan",
        "choose your plan",
        PAYERS,
        choose_plan,
        (PLAN_ID,),
        unavailable=NO_ACCOUNT,
        label="Choose a plan",
    ),
    Command(
        "invoices",
        "invoices and what is due",
        PAYERS,
        invoices,
        unavailable=NO_ACCOUNT,
        label="Invoices",
        first=frozenset({Role.PAID}),
    ),
    Command(
        "pay",
        "pay open invoices from your balance",
        PAYERS,
        pay,
        confirm=confirm_pay,
        unavailable=NO_ACCOUNT,
        label="Pay invoices",
    ),
    Command(
        "admin price",
        "set a plan's monthly price (a new version)",
        OPERATORS,
        price,
        (PLAN_ID, Param("amount", "the new monthly price", ParamKind.AMOUNT, label="Price")),
        confirm=confirm_price,
        label="Set a plan's price",
    ),
    Command(
        "admin freeze",
        "freeze an account",
        OPERATORS,
        freeze,
        (
            TARGET,
            KIND,
            Param("reason", "why (recorded with the freeze)", rest=True, label="Reason"),
        ),
        confirm=confirm_freeze,
        label="Freeze an account",
        first=OPERATORS,
    ),
    Command(
        "admin unfreeze",
        "lift one freeze of an account",
        OPERATORS,
        unfreeze,
        (TARGET, KIND),
        label="Unfreeze an account",
    ),
]

"""``accountbot admin plan ...`` and ``admin freeze/unfreeze``: the billing side of operators."""

from __future__ import annotations

import argparse

from accountbot.admin import opened, operator
from accountbot.cli import EXIT_OK, EXIT_REFUSED, CliError, common, config_of
from payments.accounts.freeze_store import Frozen
from payments.accounts.records import FreezeKind
from payments.billing.cycle import Cycle
from payments.billing.freezes import operator_freeze, operator_unfreeze
from payments.billing.rules import BadPlan, check_plan_id, parse_allowance
from payments.catalog.records import Plan
from payments.clock import utcnow
from payments.jid import normalise_jid
from payments.money import format_money, parse_money

KINDS = [k.value for k in FreezeKind]


def add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = common(sub.add_parser("plan", help="the plan catalog (versioned prices)"))
    plans = plan.add_subparsers(dest="plan_command", required=True, metavar="ACTION")
    put = common(plans.add_parser("set", help="create a plan, or a new version of it"))
    put.add_argument("plan_id", metavar="ID")
    put.add_argument("--price", help="monthly price, like 10 or 9.99 (required for a new plan)")
    put.add_argument("--name", help="the name users see (required for a new plan)")
    put.add_argument(
        "--allowance",
        action="append",
        metavar="RESOURCE=QTY",
        help="monthly allowance, e.g. sms=100 (repeat; replaces all allowances)",
    )
    put.set_defaults(handler=set_plan)
    listing = common(plans.add_parser("list", help="the current catalog"))
    listing.add_argument("--versions", action="store_true", help="every version of every plan")
    listing.set_defaults(handler=list_plans)

    freeze = common(sub.add_parser("freeze", help="freeze an account (every resource blocked)"))
    freeze.add_argument("jid")
    freeze.add_argument("--kind", required=True, choices=KINDS)
    freeze.add_argument("--reason", required=True, help="recorded with the freeze")
    freeze.set_defaults(handler=freeze_account)
    unfreeze = common(sub.add_parser("unfreeze", help="lift one freeze of an account"))
    unfreeze.add_argument("jid")
    unfreeze.add_argument("--kind", required=True, choices=KINDS)
    unfreeze.set_defaults(handler=unfreeze_account)


def describe_plan(plan: Plan) -> str:
    allowances = ", ".join(f"{k} {v}" for k, v in sorted(plan.allowances.items()))
    return (
        f"{plan.id}  v{plan.version}  {format_money(plan.price)}/month  {plan.name}"
        + (f"  ({allowances})" if allowances else "")
        + f"  since {plan.created_at:%Y-%m-%d}"
    )


async def set_plan(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        plan_id = check_plan_id(args.plan_id)
        resources = config.usage.resources
        allowances = (
            dict(parse_allowance(a, resources) for a in args.allowance) if args.allowance else None
        )
    except BadPlan as exc:
        raise CliError(str(exc)) from None
    price = None
    if args.price is not None:
        price = parse_money(args.price, config.billing.currency, allow_zero=True)
    async with opened(config) as store:
        if await store.plans.get(plan_id) is None and (price is None or not args.name):
            raise CliError(f"plan {plan_id} is new: --price and --name are required")
        plan, changed = await store.plans.put(
            plan_id, at=utcnow(), price=price, name=args.name, allowances=allowances
        )
    print(("new version: " if changed else "unchanged: ") + describe_plan(plan))
    return EXIT_OK


async def list_plans(args: argparse.Namespace) -> int:
    config = config_of(args)
    async with opened(config) as store:
        catalog = await store.plans.catalog()
        if args.versions:
            catalog = [v for plan in catalog for v in await store.plans.versions(plan.id)]
    for plan in catalog:
        print(describe_plan(plan))
    if not catalog:
        print("no plans yet: accountbot admin plan set ID --price P --name N")
    return EXIT_OK


async def freeze_account(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid, kind = normalise_jid(args.jid), FreezeKind(args.kind)
    async with opened(config) as store:
        cycle = Cycle(store, config.billing, operator())
        result = await operator_freeze(cycle, jid, kind, args.reason, utcnow())
    if result is Frozen.NO_ACCOUNT:
        print(f"{jid}: no active account")
        return EXIT_REFUSED
    print(f"{jid}: {'frozen' if result is Frozen.ADDED else 'already frozen'} ({kind.value})")
    return EXIT_OK


async def unfreeze_account(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid, kind = normalise_jid(args.jid), FreezeKind(args.kind)
    async with opened(config) as store:
        lifted = await operator_unfreeze(Cycle(store, config.billing, operator()), jid, kind)
    if lifted is None:
        print(f"{jid}: no {kind.value} freeze")
        return EXIT_REFUSED
    set_by = f"set {lifted.when:%Y-%m-%d} by {lifted.who}: {lifted.why}"
    print(f"{jid}: {kind.value} freeze lifted ({set_by})")
    return EXIT_OK

"""``accountbot admin plan|pack set|list``: the catalog, one versioned offer per id.

A price change is a new version; accounts keep the version they bought.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from accountbot.common import EXIT_OK, CliError, Commands, common, config_of, opened
from payments.catalog.records import BadOffer, Pack, Plan, check_offer_id, parse_allowance
from payments.catalog.store import Catalog
from payments.clock import utcnow
from payments.config import Config
from payments.money import Money, format_exact, parse_money_among
from payments.stores import Store


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    plan = _offer_parser(sub, "plan", "the plan catalog (versioned prices)", set_plan, list_plans)
    plan.add_argument(
        "--price",
        action="append",
        help="monthly price, like 10 (the default currency) or '13 CAD' (repeat, one per "
        "currency; the others are kept; required for a new plan)",
    )
    plan.add_argument("--name", help="the name users see (required for a new plan)")
    plan.add_argument(
        "--allowance",
        action="append",
        metavar="RESOURCE=QTY",
        help="monthly allowance, e.g. sms=100 (repeat; replaces all allowances)",
    )
    pack = _offer_parser(
        sub, "pack", "the credit pack catalog (versioned prices)", set_pack, list_packs
    )
    pack.add_argument("--resource", help="what it gives, e.g. sms (required for a new pack)")
    pack.add_argument("--quantity", help="how many units (required for a new pack)")
    pack.add_argument(
        "--price",
        action="append",
        help="its price, like 10 or '13 CAD' (repeat, one per currency; required for a new pack)",
    )


def _offer_parser(
    sub: Commands[argparse.ArgumentParser],
    kind: str,
    help_text: str,
    put: Callable[[argparse.Namespace], object],
    listing: Callable[[argparse.Namespace], object],
) -> argparse.ArgumentParser:
    """``admin KIND set ID ...`` (returned, for its options) and ``admin KIND list``."""
    parser = common(sub.add_parser(kind, help=help_text))
    actions = parser.add_subparsers(dest=f"{kind}_command", required=True, metavar="ACTION")
    setter = common(actions.add_parser("set", help=f"create a {kind}, or a new version of it"))
    setter.add_argument(f"{kind}_id", metavar="ID")
    setter.set_defaults(handler=put)
    lister = common(actions.add_parser("list", help=f"the {kind}s on offer"))
    lister.add_argument("--versions", action="store_true", help=f"every version of every {kind}")
    lister.set_defaults(handler=listing)
    return setter


def other_prices(price: Money, prices: Mapping[str, Money], per: str = "") -> str:
    """``  (CA$13.00/month)``: an offer's prices in the other currencies, if any."""
    others = [f"{format_exact(p)}{per}" for c, p in sorted(prices.items()) if c != price.currency]
    return f"  ({', '.join(others)})" if others else ""


def describe_plan(plan: Plan) -> str:
    allowances = ", ".join(f"{k} {v}" for k, v in sorted(plan.allowances.items()))
    also = other_prices(plan.price, plan.prices, "/month")
    return (
        f"{plan.id}  v{plan.version}  {format_exact(plan.price)}/month{also}  {plan.name}"
        + (f"  ({allowances})" if allowances else "")
        + f"  since {plan.created_at:%Y-%m-%d}"
    )


def describe_pack(pack: Pack) -> str:
    return (
        f"{pack.id}  v{pack.version}  {pack.quantity} {pack.resource}  "
        f"{format_exact(pack.price)}{other_prices(pack.price, pack.prices)}  "
        f"since {pack.created_at:%Y-%m-%d}"
    )


def _prices(texts: Sequence[str] | None, config: Config) -> list[Money]:
    """``--price`` values: each in the currency it names, else the default one."""
    prices = [parse_money_among(t, config.billing.currencies, allow_zero=True) for t in texts or ()]
    currencies = [p.currency for p in prices]
    if len(set(currencies)) != len(currencies):
        raise CliError("--price: one price per currency")
    return prices


def _quantity(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1 or int(text) > 10**9:
        raise CliError(f"--quantity: a whole number from 1 to 10^9, not {text!r}")
    return int(text)


def _allowances(texts: Sequence[str] | None, config: Config) -> dict[str, int] | None:
    if not texts:
        return None
    return dict(parse_allowance(a, config.usage.resources) for a in texts)


async def set_plan(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        plan_id = check_offer_id(args.plan_id, "plan")
        allowances = _allowances(args.allowance, config)
        async with opened(config) as store:
            plan, changed = await store.plans.put(
                plan_id,
                at=utcnow(),
                prices=_prices(args.price, config),
                name=args.name,
                allowances=allowances,
            )
    except BadOffer as exc:
        raise CliError(str(exc)) from None
    print(("new version: " if changed else "unchanged: ") + describe_plan(plan))
    return EXIT_OK


async def set_pack(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.resource is not None and args.resource not in config.usage.resources:
        known = ", ".join(config.usage.resources)
        raise CliError(f"--resource: one of {known} (the [usage] resources)")
    try:
        pack_id = check_offer_id(args.pack_id, "pack")
        quantity, prices = _quantity(args.quantity), _prices(args.price, config)
        async with opened(config) as store:
            pack, changed = await store.packs.put(
                pack_id, at=utcnow(), resource=args.resource, quantity=quantity, prices=prices
            )
    except BadOffer as exc:
        raise CliError(str(exc)) from None
    print(("new version: " if changed else "unchanged: ") + describe_pack(pack))
    return EXIT_OK


class _Offer(Protocol):
    @property
    def id(self) -> str: ...


async def _list(
    args: argparse.Namespace,
    catalog_of: Callable[[Store], Catalog[Plan]] | Callable[[Store], Catalog[Pack]],
    describe: Callable[..., str],
    hint: str,
) -> int:
    async with opened(config_of(args)) as store:
        catalog = catalog_of(store)
        offers: list[_Offer] = list(await catalog.all())
        if args.versions:
            offers = [v for offer in offers for v in await catalog.versions(offer.id)]
    for offer in offers:
        print(describe(offer))
    if not offers:
        print(hint)
    return EXIT_OK


async def list_plans(args: argparse.Namespace) -> int:
    hint = "no plans yet: accountbot admin plan set ID --price P --name N"
    return await _list(args, lambda store: store.plans, describe_plan, hint)


async def list_packs(args: argparse.Namespace) -> int:
    hint = "no packs yet: accountbot admin pack set ID --resource R --quantity Q --price P"
    return await _list(args, lambda store: store.packs, describe_pack, hint)

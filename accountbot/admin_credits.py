"""``accountbot admin pack set|list``: the credit pack catalog (versioned prices, like plans)."""

from __future__ import annotations

import argparse

from accountbot.admin import opened
from accountbot.cli import EXIT_OK, CliError, common, config_of
from payments.clock import utcnow
from payments.money import format_money, parse_money
from payments.usage.credits import BadPack, Pack, check_pack_id


def add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pack = common(sub.add_parser("pack", help="the credit pack catalog (versioned prices)"))
    packs = pack.add_subparsers(dest="pack_command", required=True, metavar="ACTION")
    put = common(packs.add_parser("set", help="create a pack, or a new version of it"))
    put.add_argument("pack_id", metavar="ID")
    put.add_argument("--resource", help="what it gives, e.g. sms (required for a new pack)")
    put.add_argument("--quantity", help="how many units (required for a new pack)")
    put.add_argument("--price", help="its price, like 10 or 9.99 (required for a new pack)")
    put.set_defaults(handler=set_pack)
    listing = common(packs.add_parser("list", help="the packs on offer"))
    listing.add_argument("--versions", action="store_true", help="every version of every pack")
    listing.set_defaults(handler=list_packs)


def describe_pack(pack: Pack) -> str:
    return (
        f"{pack.id}  v{pack.version}  {pack.quantity} {pack.resource}  "
        f"{format_money(pack.price)}  since {pack.created_at:%Y-%m-%d}"
    )


def _quantity(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1 or int(text) > 10**9:
        raise CliError(f"--quantity: a whole number from 1 to 10^9, not {text!r}")
    return int(text)


async def set_pack(args: argparse.Namespace) -> int:
    config = config_of(args)
    try:
        pack_id = check_pack_id(args.pack_id)
    except BadPack as exc:
        raise CliError(str(exc)) from None
    if args.resource is not None and args.resource not in config.usage.resources:
        known = ", ".join(config.usage.resources)
        raise CliError(f"--resource: one of {known} (the [usage] resources)")
    quantity = _quantity(args.quantity)
    price = None
    if args.price is not None:
        price = parse_money(args.price, config.billing.currency, allow_zero=True)
    async with opened(config) as store:
        is_new = await store.credits.pack(pack_id) is None
        if is_new and (args.resource is None or quantity is None or price is None):
            raise CliError(f"pack {pack_id} is new: --resource, --quantity and --price needed")
        pack, changed = await store.credits.put_pack(
            pack_id, at=utcnow(), resource=args.resource, quantity=quantity, price=price
        )
    print(("new version: " if changed else "unchanged: ") + describe_pack(pack))
    return EXIT_OK


async def list_packs(args: argparse.Namespace) -> int:
    config = config_of(args)
    async with opened(config) as store:
        catalog = await store.credits.catalog()
        if args.versions:
            catalog = [v for pack in catalog for v in await store.credits.versions(pack.id)]
    for pack in catalog:
        print(describe_pack(pack))
    if not catalog:
        print("no packs yet: accountbot admin pack set ID --resource R --quantity Q --price P")
    return EXIT_OK

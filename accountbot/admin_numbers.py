"""``accountbot admin number assign JID NUMBER`` / ``release JID`` / ``show JID|NUMBER``.

A number is E.164 and held by one account at a time; both directions are
one O(1) read (``payments/numbers.py``). Exit 1 when the number is held by
another account or the JID has no active account, 2 for a malformed number.
"""

from __future__ import annotations

import argparse

from accountbot.common import EXIT_OK, EXIT_REFUSED, CliError, Commands, common, config_of, opened
from payments.accounts.numbers import BadNumber, parse_e164
from payments.jid import normalise_jid


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    number = common(sub.add_parser("number", help="phone numbers of accounts"))
    numbers = number.add_subparsers(dest="number_command", required=True, metavar="ACTION")
    assign = common(numbers.add_parser("assign", help="give an account its number"))
    assign.add_argument("jid")
    assign.add_argument("number", help="E.164, like +15550100199")
    assign.set_defaults(handler=assign_number)
    release = common(numbers.add_parser("release", help="take an account's number away"))
    release.add_argument("jid")
    release.set_defaults(handler=release_number)
    show = common(numbers.add_parser("show", help="who holds a number, or an account's number"))
    show.add_argument("what", metavar="JID|NUMBER")
    show.set_defaults(handler=show_number)


def _e164(text: str) -> str:
    try:
        return parse_e164(text)
    except BadNumber as exc:
        raise CliError(str(exc)) from None


async def assign_number(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid, number = normalise_jid(args.jid), _e164(args.number)
    async with opened(config) as store:
        before = await store.numbers.assign(jid, number)
    if before == number:
        print(f"{jid} already has {number}")
    elif before:
        print(f"{jid}: {number} (was {before}, now free)")
    else:
        print(f"{jid}: {number}")
    return EXIT_OK


async def release_number(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        number = await store.numbers.release(jid)
    print(f"released {number} from {jid}" if number else f"{jid} has no number")
    return EXIT_OK


async def show_number(args: argparse.Namespace) -> int:
    config = config_of(args)
    async with opened(config) as store:
        if args.what.strip().startswith("+"):
            number = _e164(args.what)
            holder = await store.numbers.holder(number)
            print(f"{number}: {holder}" if holder else f"{number}: free")
            return EXIT_OK if holder else EXIT_REFUSED
        jid = normalise_jid(args.what)
        number = await store.numbers.of(jid)
    print(f"{jid}: {number}" if number else f"{jid}: no number")
    return EXIT_OK if number else EXIT_REFUSED

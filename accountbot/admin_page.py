"""``accountbot admin page JID``: a link to the account page with the operator's actions."""

from __future__ import annotations

import argparse
import sys

from accountbot.common import EXIT_OK, EXIT_REFUSED, Commands, common, config_of, opened, operator
from payments.clock import utcnow
from payments.jid import normalise_jid
from payments.web.links import account_url


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    page = common(
        sub.add_parser(
            "page", help="a link to an account's page with the operator's actions (credit, freeze)"
        )
    )
    page.add_argument("jid")
    page.set_defaults(handler=print_page_link)


async def print_page_link(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        account = await store.accounts.get(jid)
    if account is None:
        print(f"{jid}: no account")
        return EXIT_REFUSED
    print(account_url(config, jid, utcnow(), operator=operator()))
    minutes = config.web.link_ttl_minutes
    print(
        f"valid {minutes} minutes; anyone holding it acts as you on this account", file=sys.stderr
    )
    return EXIT_OK

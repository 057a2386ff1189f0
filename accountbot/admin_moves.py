"""``accountbot admin move OLD NEW``: an account to a new JID, without codes (the operator
agrees for both sides; docs/billing.md, "Moving an account to a new JID")."""

from __future__ import annotations

import argparse

from accountbot.common import EXIT_OK, EXIT_REFUSED, Commands, common, config_of, opened, operator
from payments.clock import utcnow
from payments.errors import PaymentsError
from payments.jid import normalise_jid
from payments.moves.flow import MoveFlow, operator_move


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    move = common(sub.add_parser("move", help="move an account to a new JID (everything it has)"))
    move.add_argument("old", help="the account's JID")
    move.add_argument("new", help="its new JID: no account, or a trial never used")
    move.set_defaults(handler=move_account)


async def move_account(args: argparse.Namespace) -> int:
    config = config_of(args)
    old, new = normalise_jid(args.old), normalise_jid(args.new)
    async with opened(config) as store:
        try:
            flow = MoveFlow(store, config.billing, operator(), usage=config.usage)
            await operator_move(flow, old, new, utcnow())
        except PaymentsError as exc:
            print(f"{old}: not moved: {exc}")
            return EXIT_REFUSED
    print(f"{old}: moved to {new}; {old} has no account now")
    return EXIT_OK

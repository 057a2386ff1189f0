"""``accountbot admin freeze|unfreeze``: operators' freezes of any kind, and lifting one."""

from __future__ import annotations

import argparse

from accountbot.common import EXIT_OK, EXIT_REFUSED, Commands, common, config_of, opened, operator
from payments.accounts.freeze_store import Frozen
from payments.accounts.records import FreezeKind
from payments.billing.cycle import Cycle
from payments.billing.freezes import operator_freeze, operator_unfreeze
from payments.clock import utcnow
from payments.jid import normalise_jid

KINDS = [k.value for k in FreezeKind]


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    freeze = common(sub.add_parser("freeze", help="freeze an account (every resource blocked)"))
    freeze.add_argument("jid")
    freeze.add_argument("--kind", required=True, choices=KINDS)
    freeze.add_argument("--reason", required=True, help="recorded with the freeze")
    freeze.set_defaults(handler=freeze_account)
    unfreeze = common(sub.add_parser("unfreeze", help="lift one freeze of an account"))
    unfreeze.add_argument("jid")
    unfreeze.add_argument("--kind", required=True, choices=KINDS)
    unfreeze.set_defaults(handler=unfreeze_account)


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
        cycle = Cycle(store, config.billing, operator())
        lifted = await operator_unfreeze(cycle, jid, kind, utcnow())
    if lifted is None:
        print(f"{jid}: no {kind.value} freeze")
        return EXIT_REFUSED
    set_by = f"set {lifted.when:%Y-%m-%d} by {lifted.who}: {lifted.why}"
    print(f"{jid}: {kind.value} freeze lifted ({set_by})")
    return EXIT_OK

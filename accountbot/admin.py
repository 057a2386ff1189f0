"""``accountbot admin ...``: operators inspect and fix accounts; one module per topic."""

from __future__ import annotations

import argparse

from accountbot import (
    admin_cards,
    admin_catalog,
    admin_freezes,
    admin_ledger,
    admin_moves,
    admin_numbers,
    admin_page,
    admin_vouchers,
)
from accountbot.common import Commands, common


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    admin = common(commands.add_parser("admin", help="inspect and fix accounts"))
    sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    modules = (
        admin_ledger,
        admin_vouchers,
        admin_catalog,
        admin_freezes,
        admin_numbers,
        admin_moves,
        admin_page,
        admin_cards,
    )
    for module in modules:
        module.add_admin_commands(sub)

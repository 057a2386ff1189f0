"""Every command the bot serves, in one explicit list."""

from __future__ import annotations

from bot.commands import (
    account,
    admin,
    billing,
    cards,
    credits,
    currency,
    groups,
    moves,
    notify,
    payments,
    referrals,
    user,
)
from bot.commands.model import Command, Registry


def all_commands() -> list[Command]:
    return [
        *user.COMMANDS,
        *billing.COMMANDS,
        *payments.COMMANDS,
        *groups.COMMANDS,
        *credits.COMMANDS,
        *cards.COMMANDS,
        *account.COMMANDS,
        *currency.COMMANDS,
        *notify.COMMANDS,
        *referrals.COMMANDS,
        *moves.COMMANDS,
        *admin.COMMANDS,
    ]


def build_registry() -> Registry:
    return Registry(all_commands())

"""``account``: a personal link to the account page (balances, usage, invoices, the ledger)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import USERS, Command, Context, Reply
from payments.web.links import account_url

NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."


async def account(ctx: Context, args: Mapping[str, Any]) -> Reply:
    url = account_url(ctx.config, ctx.jid, ctx.now)
    minutes = ctx.config.web.link_ttl_minutes
    return Reply(
        f"Your account page (your personal link, valid {minutes} minutes; keep it to yourself): "
        f"{url}",
        url=url,
    )


COMMANDS = [
    Command(
        "account",
        "a personal link to your account page: balance, usage, invoices, ledger",
        USERS,
        account,
        unavailable=NO_ACCOUNT,
        label="Account page",
    ),
]

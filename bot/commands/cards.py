"""Saved-card commands: ``cards``, ``card default LAST4``, ``card remove LAST4`` and
``autotopup AMOUNT below THRESHOLD`` / ``autotopup off``.

Handlers call ``payments.cards`` and never Redis directly. Cards are saved on
the provider's page (the link ``cards`` gives); the bot lists and orders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.model import PAYERS, Command, Context, Param, Reply, Table
from payments.cards import texts
from payments.cards.autotopup import set_autotopup
from payments.cards.rules import match_card, parse_autotopup
from payments.cards.saving import make_default, remove_card
from payments.cards.standing import standing_of
from payments.money import InvalidAmount, format_money
from payments.web.links import card_url

OFF = "Saved cards are not available on this service."


def _available(ctx: Context) -> bool:
    return ctx.config.providers.stripe.enabled


async def card_options(ctx: Context) -> list[tuple[str, str]]:
    """The asker's cards, as a pick-list: (last 4, "visa …4242, expires 12/30")."""
    return [
        (c.last4, f"{c.label}, expires {c.expiry}") for c in await ctx.store.cards.cards(ctx.jid)
    ]


LAST4 = Param(
    "last4", "the last 4 digits of the card ('cards')", label="Card", options=card_options
)


async def cards(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if not _available(ctx):
        return Reply(OFF)
    profile = await ctx.store.cards.profile(ctx.jid)
    saved = await ctx.store.cards.cards(ctx.jid)
    days = ctx.config.cards.expiry_warning_days
    lines = [texts.card_line(c, profile.default, ctx.now, days) for c in saved] or [
        "No card saved."
    ]
    auto = profile.autotopup
    if auto is not None:
        lines.append(
            f"Automatic top-up: {format_money(auto.amount)} when your balance is below "
            f"{format_money(auto.below)} ('autotopup off' to stop)."
        )
    standing = await standing_of(ctx.store, ctx.config, ctx.jid, ctx.now)
    if standing is not None and not standing.good:
        lines.append(standing.missing().capitalize() + ".")
    url = card_url(ctx.config, ctx.jid, ctx.now)
    minutes = ctx.config.web.link_ttl_minutes
    lines.append(f"Add a card here (your personal link, valid {minutes} minutes): {url}")
    rows = tuple(
        (c.brand, c.last4, c.expiry, "yes" if c.id == profile.default else "") for c in saved
    )
    return Reply(
        "\n".join(lines), url=url, table=Table(("card", "last 4", "expires", "default"), rows)
    )


async def card_default(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if not _available(ctx):
        return Reply(OFF)
    card = await make_default(ctx.store, ctx.jid, str(args["last4"]))
    return Reply(f"{card.label} is now your default card: it is charged first.")


async def confirm_remove(ctx: Context, args: Mapping[str, Any]) -> str | Reply:
    if not _available(ctx):
        return Reply(OFF)
    card = match_card(await ctx.store.cards.cards(ctx.jid), str(args["last4"]))
    return f"Remove {card.label} (expires {card.expiry})? It will not be charged again."


async def card_remove(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if not _available(ctx):
        return Reply(OFF)
    return Reply(await remove_card(ctx.store, ctx.config, ctx.jid, str(args["last4"]), ctx.now))


async def autotopup(ctx: Context, args: Mapping[str, Any]) -> Reply:
    if not _available(ctx):
        return Reply(OFF)
    billing = ctx.config.billing.in_currency(ctx.currency)  # the account's
    try:
        setting = parse_autotopup(str(args["setting"]), billing.currency, billing.max_amount)
    except InvalidAmount as exc:
        return Reply(f"{exc}. Usage: autotopup AMOUNT below THRESHOLD, or autotopup off",
                     error="bad-request")  # fmt: skip
    return Reply(await set_autotopup(ctx.store, ctx.config, ctx.jid, setting, ctx.now))


COMMANDS = [
    Command(
        "cards",
        "your saved cards, and a link to add one",
        PAYERS,
        cards,
        label="Cards",
    ),
    Command(
        "card default",
        "make a saved card the one charged first",
        PAYERS,
        card_default,
        (LAST4,),
        label="Default card",
    ),
    Command(
        "card remove",
        "forget a saved card",
        PAYERS,
        card_remove,
        (LAST4,),
        confirm=confirm_remove,
        label="Remove a card",
    ),
    Command(
        "autotopup",
        "charge your card when your balance runs low: autotopup 25 below 5, or autotopup off",
        PAYERS,
        autotopup,
        (
            Param(
                "setting",
                "AMOUNT below THRESHOLD (like 25 below 5), or off",
                rest=True,
                label="Top up by AMOUNT below THRESHOLD, or off",
            ),
        ),
        label="Automatic top-up",
    ),
]

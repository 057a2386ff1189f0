"""The account page's saved cards: what is gathered for it, and its section.

It reads the cards capability the way the bot's ``cards`` does (the cards
with the default marked and those expiring flagged, automatic top-up, the
standing), and links to the page that saves a card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from payments.cards.records import AutoTopup, Card
from payments.cards.standing import Standing, standing_of
from payments.cards.texts import card_line
from payments.config import Config
from payments.money import format_money
from payments.stores import Store
from payments.web.account_html import link_button


@dataclass(frozen=True, slots=True)
class SavedCards:
    lines: tuple[str, ...]  # one per card: brand, last 4, expiry, default, flags
    cards: tuple[Card, ...]
    autotopup: AutoTopup | None
    standing: Standing | None


async def saved_cards(store: Store, config: Config, jid: str, now: datetime) -> SavedCards | None:
    """The cards of a payer (None when this service saves no card)."""
    if not config.providers.stripe.enabled:
        return None
    profile = await store.cards.profile(jid)
    cards = tuple(await store.cards.cards(jid))
    days = config.cards.expiry_warning_days
    lines = tuple(card_line(c, profile.default, now, days) for c in cards)
    standing = await standing_of(store, config, jid, now)
    return SavedCards(lines, cards, profile.autotopup, standing)


def cards_section(saved: SavedCards, add_card: str, *, operator: bool) -> str:
    items = "".join(f'<li class="card">{escape(line)}</li>' for line in saved.lines)
    body = f'<ul id="cards">{items}</ul>' if items else "<p>No card is saved.</p>"
    body += "<p>Renewals are paid from the voucher balance, then prepaid, then the default "
    body += "card, then the others.</p>"
    auto = saved.autotopup
    if auto is not None:
        body += (
            f'<p id="autotopup">Automatic top-up: {escape(format_money(auto.amount))} when the '
            f"balance is below {escape(format_money(auto.below))}.</p>"
        )
    if saved.standing is not None and not saved.standing.good:
        missing = escape(saved.standing.missing().capitalize())
        body += f'<p class="hint" id="standing">{missing}.</p>'
    if add_card and not operator:
        body += f'<p class="actions">{link_button(add_card, "Add a card")}</p>'
    return (
        '<section id="cards-section" aria-labelledby="cards-h">'
        f'<h2 id="cards-h">Cards</h2>{body}</section>'
    )

"""Good standing (the cloud design's "may the user deploy?"): an account with a valid
saved card, or with voucher and prepaid balances that cover its next renewal.

It decides nothing by itself (grace and freezes do): the gateway's authorize
answer and the bot's ``cards`` say which of the two is missing when neither holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payments.accounts.records import AccountKind
from payments.cards import texts
from payments.cards.records import Card
from payments.cards.rules import ordered, usable
from payments.cards.saving import renewal_cover
from payments.config import Config
from payments.money import Money
from payments.stores import Store


@dataclass(frozen=True, slots=True)
class Standing:
    card: Card | None  # the card that would pay (the default, else the next valid one)
    needed: Money  # the next renewal
    covered: Money  # voucher + prepaid
    renews_at: datetime | None

    @property
    def good(self) -> bool:
        return self.card is not None or self.covered >= self.needed

    def missing(self) -> str:
        """What is missing, for people ('' in good standing)."""
        if self.good:
            return ""
        renewal = texts.renewal_line(self.needed, self.covered, self.renews_at)
        return f"no valid card saved, and {renewal}: add a card ('cards') or top up ('topup')"


async def standing_of(store: Store, config: Config, jid: str, now: datetime) -> Standing | None:
    """The standing of a payer (None for a leaf, whose main pays, or no account)."""
    account = await store.accounts.get(jid)
    if account is None or account.kind is AccountKind.LEAF:
        return None
    profile = await store.cards.profile(jid)
    cards = ordered(usable(await store.cards.cards(jid), now), profile.default)
    needed, covered = await renewal_cover(store, config, jid)
    return Standing(cards[0] if cards else None, needed, covered, account.next_renewal_at)

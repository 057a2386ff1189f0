"""The rules of saved cards, without I/O: which card pays first, when to try again,
how much to charge, how a refund spreads over payments, what a user typed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from payments.cards.records import Card, CardPayment
from payments.errors import PaymentsError
from payments.money import InvalidAmount, Money, format_money, parse_money
from payments.topup.providers.amounts import payable_ceiling

NEVER: Final = datetime.min.replace(tzinfo=UTC)


class NoSuchCard(PaymentsError):
    pass


class CardKept(PaymentsError):
    """The last card of an account whose balances do not cover its next renewal."""


class NoCardSaved(PaymentsError):
    pass


class CardsUnavailable(PaymentsError):
    """This deployment has no card provider (Stripe) enabled."""


class RefundRefused(PaymentsError):
    def __init__(self, text: str, most: Money) -> None:
        super().__init__(text)
        self.most = most


def ordered(cards: Iterable[Card], default: str, first: str = "") -> list[Card]:
    """The order cards are charged in: ``first`` (a card just added), the default, then the
    others by their last success (newest first; never-used ones last, oldest first)."""

    def rank(card: Card) -> tuple[int, float, datetime]:
        place = 0 if card.id == first else 1 if card.id == default else 2
        success = (card.last_success or NEVER).timestamp()
        return place, -success, card.added_at

    return sorted(cards, key=rank)


def usable(cards: Iterable[Card], now: datetime) -> list[Card]:
    return [card for card in cards if not card.expired(now)]


def attempt_times(opened: datetime, retry_days: Sequence[int]) -> list[datetime]:
    """When an open invoice is paid by card: as it opens, then on each retry day."""
    return [opened, *(opened + timedelta(days=d) for d in retry_days)]


def attempt_number(opened: datetime, now: datetime, retry_days: Sequence[int]) -> int:
    """The scheduled attempt due at ``now`` (1 as the invoice opens, 2 on the first retry
    day ...): the number of attempt times that have come."""
    return sum(1 for at in attempt_times(opened, retry_days) if at <= now)


def next_attempt(opened: datetime, done: int, retry_days: Sequence[int]) -> datetime | None:
    """The time of the attempt after the ``done`` first ones, None after the last."""
    times = attempt_times(opened, retry_days)
    return times[done] if done < len(times) else None


def charge_amount(missing: Money, minimum: Money) -> Money:
    """What to charge a card for ``missing``: whole cents, at least the provider's minimum
    (the rest stays on the prepaid balance)."""
    return max(payable_ceiling(missing), minimum)


def charge_key(jid: str, *parts: str) -> str:
    """A provider idempotency key (at most 255 characters, whatever the JID's length)."""
    account = hashlib.sha256(jid.encode()).hexdigest()[:20]
    return "-".join(["ab", account, *parts])


def refund_plan(payments: Sequence[CardPayment], amount: Money) -> list[tuple[str, Money]]:
    """``amount`` spread over card payments, newest first, each giving what is left of it."""
    plan, left = [], amount
    for payment in sorted(payments, key=lambda p: (p.at, p.payment_intent), reverse=True):
        part = min(payment.refundable, left)
        if part.units > 0:
            plan.append((payment.payment_intent, part))
            left -= part
        if not left.units:
            return plan
    raise RefundRefused(f"only {format_money(amount - left)} was paid by card", amount - left)


def refundable_now(payments: Sequence[CardPayment], prepaid: Money) -> Money:
    """The most a refund may give back: paid by card, not refunded or disputed, unspent."""
    by_card = sum((p.refundable for p in payments), Money.zero(prepaid.currency))
    return max(min(by_card, prepaid), Money.zero(prepaid.currency))


def match_card(cards: Sequence[Card], text: str) -> Card:
    """The card a user named by its last 4 digits (or its id, as forms send)."""
    wanted = text.strip().lstrip("…*.x ")
    found = [c for c in cards if wanted in (c.last4, c.id)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NoSuchCard(f"no saved card ends in {wanted[:8]}: send 'cards' to see them")
    raise NoSuchCard(f"several cards end in {wanted}: choose on the account page ('account')")


def parse_autotopup(text: str, currency: str, maximum: Money) -> tuple[Money, Money] | None:
    """``AMOUNT below THRESHOLD`` as (amount, threshold); None for ``off``."""
    words = text.lower().split()
    if words == ["off"]:
        return None
    if len(words) != 3 or words[1] != "below":
        raise InvalidAmount("write it as AMOUNT below THRESHOLD (like 25 below 5), or off")
    amount = parse_money(words[0], currency, maximum=maximum)
    below = parse_money(words[2], currency, maximum=maximum)
    if amount != payable_ceiling(amount):
        raise InvalidAmount("a card is charged in whole cents: at most 2 decimals")
    return amount, below

"""Automatic top-up: ``autotopup AMOUNT below THRESHOLD``, charged to the default card.

Whatever leaves the prepaid balance below the threshold (a renewal, a
settlement, a pack bought) puts the account on ``payment-card_due``; the card
work (the web service's worker, the ``cards`` chore) then claims a top-up in
one script (``autotopup_claim.lua``: below the threshold, once per cooldown,
within the monthly cap, not for an account an operator froze) and charges
it. Charges that land at once claim one top-up. Declines in a row turn it off.
"""

from __future__ import annotations

from datetime import datetime

from payments.cards import texts
from payments.cards.charging import Charged, ChargeResult, charge, short
from payments.cards.desk import Desk
from payments.cards.records import ChargeRequest, Purpose
from payments.cards.rules import NoCardSaved, charge_key, ordered, usable
from payments.config import Config
from payments.errors import PaymentsError
from payments.money import Money, format_money
from payments.stores import Store


async def set_autotopup(
    store: Store, config: Config, jid: str, setting: tuple[Money, Money] | None, now: datetime
) -> str:
    """Turn automatic top-up on (``setting``: amount, threshold) or off (None): the reply."""
    if setting is None:
        was_on = await store.cards.clear_autotopup(jid)
        return "Automatic top-up is off." if was_on else "Automatic top-up was already off."
    amount, below = setting
    cards = usable(await store.cards.cards(jid), now)
    if not cards:
        raise NoCardSaved("automatic top-up needs a saved card: send 'cards' to add one")
    least = config.cards.in_currency(amount.currency).min_charge
    if amount < least:
        raise PaymentsError(f"an automatic top-up is at least {format_money(least)}")
    await store.cards.set_autotopup(jid, amount, below)
    if (await store.ledger.balances(jid)).prepaid < below:
        await store.cards.schedule(jid, now)
    card = ordered(cards, (await store.cards.profile(jid)).default)[0]
    minutes = config.cards.autotopup_cooldown
    cap = config.cards.in_currency(amount.currency).autotopup_monthly_cap
    return (
        f"Automatic top-up is on: {format_money(amount)} is charged to {card.label} whenever "
        f"your balance falls below {format_money(below)} (at most once every {minutes} "
        f"minutes, {format_money(cap)} a month)."
    )


async def top_up_if_low(desk: Desk, jid: str, now: datetime) -> ChargeResult | None:
    """Charge one automatic top-up if one is due now; None when none is."""
    store = desk.store
    cards = desk.config.cards.in_currency(await store.currencies.of(jid))
    if await store.cards.in_flight(jid) is not None:
        return None  # one charge at a time: looked at again once it ended
    claim = await store.cards.claim_autotopup(
        jid,
        now,
        cooldown_s=cards.autotopup_cooldown * 60,
        cap=cards.autotopup_monthly_cap,
        max_failures=cards.autotopup_max_failures,
    )
    if claim.amount is None:
        return None
    profile = await store.cards.profile(jid)
    order = ordered(usable(await store.cards.cards(jid), now), profile.default)
    key = charge_key(jid, "topup", str(claim.number))
    if not order:
        await store.cards.clear_autotopup(jid)
        await store.outbox.notify(texts.autotopup_no_card(jid, key))
        return None
    card = order[0]
    reason = f"automatic top-up, card {card.label}"
    request = ChargeRequest(key, Purpose.TOPUP, claim.amount, card, reason)
    result = await charge(desk, jid, request, now)
    if result.status is Charged.BUSY:
        await store.cards.release_autotopup(jid, claim, f"{now:%Y%m}")
    elif result.failed and result.ended:
        await after_decline(desk, jid, card.label, result, key)
    return result


async def after_decline(desk: Desk, jid: str, label: str, result: ChargeResult, key: str) -> None:
    """Tell the user; off after ``autotopup_max_failures`` declines in a row."""
    if result.declines >= desk.config.cards.autotopup_max_failures:
        await desk.store.cards.clear_autotopup(jid)
        await desk.store.outbox.notify(texts.autotopup_off(jid, result.declines, key))
        return
    await desk.store.outbox.notify(texts.autotopup_declined(jid, label, short(result), key))

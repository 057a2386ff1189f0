"""The simulator's card actions: users save and remove cards and set automatic top-up; the
card work runs (the web service's worker); the provider delivers and replays its events,
refunds in its dashboard, opens and closes disputes; operators refund and lift disputes."""

from __future__ import annotations

from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.freezes import operator_unfreeze
from payments.cards.autotopup import set_autotopup
from payments.cards.events import apply_card_event
from payments.cards.refunds import refund_to_cards
from payments.cards.saving import customer_of, remove_card
from payments.cards.work import work_due
from payments.money import Money
from payments.topup.providers.base import WebhookRefused
from payments.topup.providers.cards import CardSetUp
from tests.simulator.cards import NUMBERS
from tests.simulator.world import World


async def _payer(w: World) -> str:
    """A JID that may hold cards now, picked at random ('' when there is none)."""
    for jid in w.rng.sample(w.jids, len(w.jids)):
        account = await w.store.accounts.get(jid)
        if account is not None and not account.closed and account.kind is not AccountKind.LEAF:
            return jid
    return ""


async def add_card(w: World) -> None:
    """A user saves a card on the provider's page; its event comes now or later."""
    jid = await _payer(w)
    if not jid:
        return
    numbers = sorted(NUMBERS)
    number = w.rng.choices(numbers, [4 if not NUMBERS[n] else 1 for n in numbers])[0]
    customer = await customer_of(w.desk(jid), jid)
    method = w.cards.new_card(number, customer)
    w.say(f"card saved at the provider for {jid}: …{number} ({method})")
    w.cards.pending.append(CardSetUp(w.next_id("evt"), jid, customer, payment_method=method))
    if w.rng.random() < 0.6:
        await deliver(w, len(w.cards.pending) - 1)


async def deliver(w: World, index: int) -> None:
    """The provider's webhook: a refusal (not ours yet) is delivered again later."""
    event = w.cards.pending.pop(index)
    w.say(f"card event {type(event).__name__} {event.event_id}")
    try:
        await apply_card_event(w.desk("webhook"), event, w.now)
    except WebhookRefused as refused:
        w.say(f"card event refused: {refused}")
        w.cards.pending.append(event)
        return
    w.cards.delivered.append(event)


async def card_event(w: World) -> None:
    """A pending event delivered, or an old one replayed."""
    if w.cards.pending and (not w.cards.delivered or w.rng.random() < 0.7):
        await deliver(w, w.rng.randrange(len(w.cards.pending)))
    elif w.cards.delivered:
        event = w.rng.choice(w.cards.delivered)
        w.say(f"card event replayed: {type(event).__name__} {event.event_id}")
        await apply_card_event(w.desk("webhook"), event, w.now)


async def forget_card(w: World) -> None:
    jid = await _payer(w)
    cards = await w.store.cards.cards(jid) if jid else []
    if cards:
        card = w.rng.choice(cards)
        w.say(f"card remove {jid} {card.last4}")
        await remove_card(w.store, w.config, jid, card.last4, w.now)


async def autotopup(w: World) -> None:
    jid = await _payer(w)
    if not jid:
        return
    currency = await w.store.currencies.of(jid)
    amount = Money.whole(w.rng.choice((5, 10, 20)), currency)
    below = Money.whole(w.rng.choice((8, 15, 30)), currency)
    setting = None if w.rng.random() < 0.4 else (amount, below)
    w.say(f"autotopup {jid} " + (f"{amount} below {below}" if setting else "off"))
    await set_autotopup(w.store, w.config, jid, setting, w.now)


async def card_work(w: World) -> None:
    w.say("card work (the web service's worker)")
    await work_due(w.desk("web"), w.now)


async def provider_side(w: World) -> None:
    """In the provider's dashboard: a refund, a dispute opened, a dispute closed."""
    paid, roll = w.cards.paid(), w.rng.random()
    open_disputes = [d for d, (_, closed) in w.cards.disputes.items() if not closed]
    if open_disputes and roll < 0.35:
        dispute = w.rng.choice(open_disputes)
        won = w.rng.random() < 0.5
        w.say(f"provider closes dispute {dispute}: {'won' if won else 'lost'}")
        w.cards.close_dispute(dispute, won)
    elif paid and roll < 0.7:
        made = w.rng.choice(paid)
        w.say(f"provider: dispute of {made.payment_intent} ({made.jid})")
        w.cards.open_dispute(made)
    elif paid:
        made = w.rng.choice(paid)
        amount = Money.whole(w.rng.choice((1, 2, 5)), made.amount.currency)
        w.say(f"provider dashboard refund {amount} of {made.payment_intent} ({made.jid})")
        w.cards.dashboard_refund(made, amount)


async def operator_cards(w: World) -> None:
    """An operator refunds to cards, or lifts a dispute freeze after looking."""
    paid = w.cards.paid()
    jid = w.rng.choice(paid).jid if paid and w.rng.random() < 0.8 else w.pick()
    if w.rng.random() < 0.3:
        w.say(f"operator lifts the dispute freeze of {jid}")
        w.dispute_lifted.add(jid)
        await operator_unfreeze(w.cycle("operator"), jid, FreezeKind.DISPUTE, w.now)
        return
    currency = await w.store.currencies.of(jid)
    amount, key = Money.whole(w.rng.choice((1, 3, 10)), currency), w.next_id("refund")
    w.say(f"operator refunds {amount} to the cards of {jid} ({key})")
    await refund_to_cards(w.desk("operator"), jid, amount, reason="sim", key=key, now=w.now,
                          actor="operator")  # fmt: skip

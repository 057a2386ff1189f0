"""``accountbot admin refund JID AMOUNT --reason R --ref K``: money back to the cards that paid
it, through the card provider (``payments.cards.refunds``); ``admin cards JID``: the cards,
card payments and disputes of an account."""

from __future__ import annotations

import argparse

from accountbot.common import (
    EXIT_OK,
    EXIT_REFUSED,
    CliError,
    Commands,
    common,
    config_of,
    opened,
    operator,
)
from payments.cards.desk import opened_desk
from payments.cards.refunds import RefundOutcome, refund_to_cards
from payments.clock import utcnow
from payments.jid import normalise_jid
from payments.money import format_exact, parse_money

NOT_ENABLED = (
    "refunds to cards need [providers.stripe] enabled; "
    "for money given back another way (a bank transfer) add --outside"
)


def add_admin_commands(sub: Commands[argparse.ArgumentParser]) -> None:
    cards = common(
        sub.add_parser("cards", help="an account's saved cards, card payments, disputes")
    )
    cards.add_argument("jid")
    cards.set_defaults(handler=show_cards)


async def refund_to_card(args: argparse.Namespace) -> int:
    """Newest card payments first; never more than was paid by card and is unspent."""
    config = config_of(args)
    jid = normalise_jid(args.jid)
    amount = parse_money(args.amount, config.billing.currency, maximum=config.billing.max_amount)
    async with opened(config) as store, opened_desk(store, config, operator()) as desk:
        if desk is None:
            raise CliError(NOT_ENABLED)
        done = await refund_to_cards(
            desk, jid, amount, reason=args.reason, key=args.ref, now=utcnow(), actor=operator()
        )
    return _report(jid, args.ref, done)


def _report(jid: str, ref: str, done: RefundOutcome) -> int:
    head = f"already refunded (ref {ref})" if done.again else f"refunded to the cards of {jid}"
    if done.balance is not None:
        head += f": prepaid balance {format_exact(done.balance)}"
    print(head)
    for payment, part in done.made:
        print(f"  {format_exact(part)} to payment {payment}")
    for payment, part in done.refused:
        print(f"  {format_exact(part)} to payment {payment}: refused by the provider, given back")
    for payment, part in done.pending:
        print(f"  {format_exact(part)} to payment {payment}: no answer yet, run this again")
    return EXIT_REFUSED if done.pending else EXIT_OK


async def show_cards(args: argparse.Namespace) -> int:
    config = config_of(args)
    jid = normalise_jid(args.jid)
    async with opened(config) as store:
        profile = await store.cards.profile(jid)
        cards = await store.cards.cards(jid)
        payments = await store.card_returns.payments(jid)
        disputes = await store.card_returns.disputes(jid)
    print(f"{jid}: customer {profile.customer or '(none)'}")
    for card in cards:
        mark = " (default)" if card.id == profile.default else ""
        print(f"  card {card.id} {card.label} expires {card.expiry}{mark}")
    for paid in payments:
        print(
            f"  payment {paid.payment_intent} {paid.at:%Y-%m-%d} {format_exact(paid.amount)}, "
            f"refunded {format_exact(paid.refunded)}, disputed {format_exact(paid.disputed)}"
        )
    for dispute in disputes:
        print(f"  dispute {dispute.id} {format_exact(dispute.amount)} {dispute.status.value}")
    return EXIT_OK

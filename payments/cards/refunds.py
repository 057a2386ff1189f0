"""Refunds to cards: an operator's (``admin refund``), and those made in the provider's
dashboard, which its ``charge.refunded`` webhook reports.

An operator's refund is planned over the account's card payments, newest
first, and written before the provider is asked (``card_refund.lua``: the
prepaid balance gives it back with one ``refund`` entry, each payment
counts what of it went back), so that no more than was paid by card and is
still unspent ever goes back, whatever runs at the same time. Then each
part is refunded at the provider with its own idempotency key; a part the
provider refuses for good is given back to the balance; a part it did not
answer is finished by running the same refund (same ref) again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from payments.cards import texts
from payments.cards.desk import Desk
from payments.cards.returns_store import Refunded
from payments.cards.rules import RefundRefused, refund_plan, refundable_now
from payments.errors import WrongCurrency
from payments.money import Money, format_money
from payments.topup.providers.base import ProviderError
from payments.topup.providers.cards import PaymentRefunded, RefundFailed

log = logging.getLogger("accountbot.cards")

ATTEMPTS: Final = 3  # plans of a refund the account keeps changing under


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    again: bool  # this ref was refunded before (its remaining parts finished now)
    made: tuple[tuple[str, Money], ...] = ()  # refunded at the provider
    refused: tuple[tuple[str, Money], ...] = ()  # refused there: given back to the balance
    pending: tuple[tuple[str, Money], ...] = field(default_factory=tuple)  # no answer: run again
    balance: Money | None = None


async def refund_to_cards(
    desk: Desk, jid: str, amount: Money, *, reason: str, key: str, now: datetime, actor: str
) -> RefundOutcome:
    """Refund ``amount`` to the cards that paid it; RefundRefused says the most possible."""
    store = desk.store.card_returns
    for _ in range(ATTEMPTS):
        plan = await store.planned(jid, key) or await _plan(desk, jid, amount)
        applied = await store.refund(jid, key, plan, reason=reason, at=now, actor=actor)
        if applied.status in (Refunded.DONE, Refunded.BEFORE):
            break
    else:  # spent or refunded while we planned, every time
        raise RefundRefused("the account kept changing: run the refund again", amount)
    made, refused, pending = [], [], []
    for payment, part in applied.plan:
        if await store.made(jid, key, payment):  # a run before got the provider's answer
            made.append((payment, part))
            continue
        try:
            refund_id = await desk.provider.refund(payment, part, f"refund-{key}-{payment}")
            await store.note_made(jid, key, payment, refund_id)
            made.append((payment, part))
        except RefundFailed as exc:
            log.warning("refund %s of %s refused by the provider: %s", key, payment, exc)
            why = f"refund {key} not made by the provider: {exc}"[:200]
            await store.undo_refund(jid, key, payment, part, reason=why, at=now, actor=actor)
            refused.append((payment, part))
        except ProviderError as exc:
            log.warning("refund %s of %s: no answer: %s", key, payment, exc)
            pending.append((payment, part))
    balance = (await desk.store.ledger.balances(jid)).prepaid
    given = sum((part for _, part in made), Money.zero(amount.currency))
    if given.units and not pending:
        await desk.store.outbox.notify(texts.refunded(jid, given, balance, key))
    again = applied.status is Refunded.BEFORE
    return RefundOutcome(again, tuple(made), tuple(refused), tuple(pending), balance)


async def _plan(desk: Desk, jid: str, amount: Money) -> list[tuple[str, Money]]:
    """The parts of a new refund (a ref refunded before keeps its own plan: the script
    answers it without changing anything)."""
    payments = await desk.store.card_returns.payments(jid)
    prepaid = (await desk.store.ledger.balances(jid)).prepaid
    if amount.currency != prepaid.currency:  # asked before its currency changed (a move)
        raise WrongCurrency(jid, amount.currency, prepaid.currency)
    most = refundable_now(payments, prepaid)
    if amount > most:
        raise RefundRefused(
            f"at most {format_money(most)} can be refunded to cards: what was paid by card, "
            f"not refunded or disputed, and is still unspent on the prepaid balance "
            f"({format_money(prepaid)})",
            most,
        )
    return refund_plan(payments, amount)


async def record_provider_refund(desk: Desk, event: PaymentRefunded, now: datetime) -> str | None:
    """A refund the provider reports (once whatever the replays); None when the payment is
    not one of ours. Money already spent is not taken: the operators are told."""
    jid = await desk.store.cards.owner(event.payment_intent)
    if jid is None:
        return None
    done = await desk.store.card_returns.provider_refunded(
        jid, event.payment_intent, event.total,
        reason=f"refunded at {desk.provider.name}", at=now, actor=desk.paid_by,
    )  # fmt: skip
    if not done.known:
        return None
    if done.not_taken.units:
        text = texts.refund_not_taken(jid, done.not_taken, event.payment_intent)
        key = f"refund_short:{event.payment_intent}:{event.total.units}"
        await tell_operators(desk, text, key)
    return jid


async def tell_operators(desk: Desk, text: str, key: str) -> None:
    for operator in desk.config.operators.jids:
        await desk.store.outbox.notify(texts.operators_told(operator, text, key))

"""Card work due on an account (``payment-card_due``), done by the web service's worker and
the ``cards`` chore alike: a charge a crash left in flight finished, an open invoice's
scheduled attempt made, an automatic top-up charged; then the account's next look.

An open invoice is tried on every card as it opens (the renewal puts the
account here), then again ``[cards] retry_days`` after (days 1, 3 and 5 of
the grace by default); each scheduled attempt is made once (its number is
recorded per invoice, and names the charges' idempotency keys).
"""

from __future__ import annotations

import logging
from datetime import datetime

from payments.cards.autotopup import after_decline, top_up_if_low
from payments.cards.charging import STALE, Charged, ChargeResult, card_label, resume
from payments.cards.desk import Desk
from payments.cards.invoices import CardPaid, pay_by_card, tell_failure
from payments.cards.records import Purpose
from payments.cards.rules import attempt_number, next_attempt
from payments.errors import PaymentsError
from payments.topup.providers.base import ProviderError

log = logging.getLogger("accountbot.cards")


async def look_at(desk: Desk, jid: str, seen: datetime, now: datetime) -> None:
    """Do the card work due on ``jid`` (its schedule entry was ``seen``), then schedule the
    next look, or none."""
    if await _resume(desk, jid, now):
        following: datetime | None = now + STALE
    else:
        following = await scheduled_attempt(desk, jid, now)
        topped = await top_up_if_low(desk, jid, now)
        if unfinished(topped) or await desk.store.cards.in_flight(jid) is not None:
            following = now + STALE
    await desk.store.cards.done_looking(jid, seen, following)


async def _resume(desk: Desk, jid: str, now: datetime) -> bool:
    """Finish a charge left in flight; True while one still is."""
    charge = await desk.store.cards.in_flight(jid)
    result = await resume(desk, jid, now)
    if charge is None:
        return False
    if result is None:
        return True  # its sender is on it
    if charge.purpose is Purpose.TOPUP and result.failed and result.ended:
        label = await card_label(desk.store, jid, charge.card)
        await after_decline(desk, jid, label, result, charge.key)
    return result.status is Charged.UNKNOWN


async def scheduled_attempt(desk: Desk, jid: str, now: datetime) -> datetime | None:
    """The attempt due on the oldest open invoice, once; when the next one is due."""
    store, retry_days = desk.store, desk.config.cards.retry_days
    opened = await store.billing.open_invoices(jid)
    if not opened or not await store.cards.cards(jid):
        return None
    period = min(p for p, _ in opened)
    invoice = await store.billing.invoice(jid, period)
    if invoice is None:
        return None
    number = attempt_number(invoice.issued_at, now, retry_days)
    done = await store.cards.attempts(jid, period)
    if number > done:
        attempt = await pay_by_card(desk, jid, now, attempt=f"a{number}")
        if attempt.result is CardPaid.LATER:
            return now + STALE
        await store.cards.note_attempt(jid, period, number)
        following = next_attempt(invoice.issued_at, number, retry_days)
        if attempt.result in (CardPaid.FAILED, CardPaid.NO_CARD):
            await tell_failure(desk, jid, attempt, following, f"a{number}", now)
        return following if attempt.result is CardPaid.FAILED else None
    return next_attempt(invoice.issued_at, done, retry_days)


def unfinished(result: ChargeResult | None) -> bool:
    return result is not None and result.status in (Charged.BUSY, Charged.UNKNOWN)


async def work_due(desk: Desk, now: datetime, limit: int = 100) -> int:
    """Look at up to ``limit`` accounts of each shard whose card work is due; how many were
    looked at."""
    looked = 0
    for shard in range(desk.store.shards.count):
        looked += await work_due_in(desk, shard, now, limit)
    return looked


async def work_due_in(desk: Desk, shard: int, now: datetime, limit: int) -> int:
    """``work_due`` of one shard."""
    due = await desk.store.cards.due(now, limit, shard)
    for jid, seen in due:
        try:
            await look_at(desk, jid, seen, now)
        except (PaymentsError, ProviderError) as exc:  # one account's trouble stops nobody
            log.warning("card work on %s failed: %s", jid, exc)
    return len(due)

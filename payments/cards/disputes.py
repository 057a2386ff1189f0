"""Disputes (chargebacks): ``charge.dispute.created`` takes the disputed amount from the
prepaid balance (below zero if it must: that is what the account then owes) and
freezes the account (``dispute``: only an operator lifts it); ``charge.dispute.closed``
gives the money back when won, keeps it taken when lost. Operators are told of each.
"""

from __future__ import annotations

from datetime import datetime

from payments.accounts.records import FreezeKind, FreezeRecord, state_of
from payments.cards import texts
from payments.cards.desk import Desk
from payments.cards.records import Dispute, DisputeStatus
from payments.cards.refunds import tell_operators
from payments.money import format_money
from payments.topup.providers.cards import DisputeClosed, DisputeOpened


async def dispute_opened(desk: Desk, event: DisputeOpened, now: datetime) -> str | None:
    """Record a dispute once; the account's JID, None when the payment is not ours."""
    store = desk.store
    jid = await store.cards.owner(event.payment_intent)
    account = await store.accounts.get(jid) if jid else None
    if jid is None or account is None:
        return None
    amount = event.amount
    why = f"a card payment of {format_money(amount)} was disputed ({event.dispute})"
    record = FreezeRecord(FreezeKind.DISPUTE, desk.paid_by, now, why, state_of(account))
    dispute = Dispute(event.dispute, event.payment_intent, amount, DisputeStatus.OPEN, now)
    _, balance = await store.card_returns.open_dispute(
        jid, dispute, reason=f"dispute {event.dispute}", freeze=record.encode(), actor=desk.paid_by
    )
    await store.outbox.notify(texts.dispute_opened(jid, amount, balance, event.dispute))
    text = texts.dispute_for_operators(jid, amount, event.dispute, event.reason)
    await tell_operators(desk, text, f"dispute:{event.dispute}")
    return jid


async def dispute_closed(desk: Desk, event: DisputeClosed, now: datetime) -> str | None:
    """Close a dispute once (opened first if its opening was never delivered)."""
    store = desk.store
    jid = await store.cards.owner(event.payment_intent)
    if jid is None:
        return None
    reason = f"dispute {event.dispute} {'won' if event.won else 'lost'}"
    returns = store.card_returns
    done, _ = await returns.close_dispute(
        jid, event.dispute, event.won, reason=reason, at=now, actor=desk.paid_by
    )
    if done < 0:
        opening = DisputeOpened(
            event.event_id, event.dispute, event.payment_intent, event.amount, ""
        )
        await dispute_opened(desk, opening, now)
        await returns.close_dispute(
            jid, event.dispute, event.won, reason=reason, at=now, actor=desk.paid_by
        )
    await store.outbox.notify(texts.dispute_closed(jid, event.amount, event.won, event.dispute))
    text = texts.dispute_closed_for_operators(jid, event.amount, event.won, event.dispute)
    await tell_operators(desk, text, f"dispute_closed:{event.dispute}")
    return jid

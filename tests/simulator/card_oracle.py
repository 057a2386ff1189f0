"""The invariants of saved cards, read from Redis and from what the simulated provider knows.

After every step: only a dispute takes prepaid below zero; a payment the provider
made is credited at most once, a refund, a dispute and its outcome recorded at most
once; no card payment gives back more than it paid; automatic top-ups of an account
are a cooldown apart; a dispute freeze is lifted only by an operator. At the end,
once the provider delivered everything and the card work ran: every payment the
provider made is credited exactly once, and no charge is left in flight.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from payments import keys
from payments.ledger.records import Balance, EntryKind, LedgerEntry
from tests.simulator.ledgers import Ledgers
from tests.simulator.violation import Violation
from tests.simulator.world import World

if TYPE_CHECKING:  # oracle.py imports this module: its Snapshot is only named here
    from tests.simulator.oracle import Snapshot

ONCE = ("stripe:", "dispute:", "refund:", "stripe-refund:")  # refs that may appear once only


async def negative_only_by_disputes(jid: str, ledgers: Ledgers) -> None:
    """Only a dispute took prepaid below zero, or a move carried in such a debt (the old
    JID's dispute was checked there: a move carries a debt out like money)."""
    for entry in await ledgers.of(jid):
        takes = entry.balance is Balance.PREPAID and entry.amount.units < 0
        allowed = entry.kind is EntryKind.DISPUTE or _debt_carried_in(entry)
        if takes and not allowed and entry.balance_after.units < 0:
            raise Violation(f"{jid}: {entry.kind.value} {entry.ref} took prepaid below zero")


def _debt_carried_in(entry: LedgerEntry) -> bool:
    return entry.kind is EntryKind.MOVED and ":in:" in entry.ref


async def check_cards(w: World, accounts: dict[str, Snapshot], ledgers: Ledgers) -> None:
    refs: dict[str, Counter[str]] = {}
    for jid in {c.jid for c in w.cards.intents.values()} | set(accounts):
        found = [e.ref for e in await ledgers.of(jid) if e.ref.startswith(ONCE)]
        refs[jid] = Counter(found)
        twice = [ref for ref, n in refs[jid].items() if n > 1]
        if twice:
            raise Violation(f"{jid}: recorded more than once: {twice}")
    for made in w.cards.paid():
        if refs.get(made.jid, Counter())[f"stripe:{made.payment_intent}"] > 1:
            raise Violation(f"{made.payment_intent} of {made.jid} credited twice")
    for jid in accounts:
        await _payments_bounded(w, jid)
    _top_ups_a_cooldown_apart(w)
    _disputes_lifted_by_operators(w, accounts)


async def _payments_bounded(w: World, jid: str) -> None:
    for paid in await w.store.card_returns.payments(jid):
        if paid.refundable.units < 0:
            raise Violation(f"{jid}: {paid.payment_intent} gave back more than it paid")


def _top_ups_a_cooldown_apart(w: World) -> None:
    cooldown = timedelta(minutes=w.config.cards.autotopup_cooldown)
    times: dict[str, list[Any]] = {}
    for made in w.cards.charges.values():
        if made.purpose == "autotopup":
            times.setdefault(made.jid, []).append(made.at)
    for jid, found in times.items():
        found.sort()
        close = [b for a, b in pairwise(found) if b - a < cooldown]
        if close:
            raise Violation(f"{jid}: automatic top-ups less than a cooldown apart: {close}")


def _disputes_lifted_by_operators(w: World, accounts: dict[str, Snapshot]) -> None:
    frozen = {jid for jid, snap in accounts.items() if "dispute" in snap.freezes}
    # A move carries the account's freezes to its new JID: the freeze held there counts.
    moved = {jid: snap.account.get("moved_to", "") for jid, snap in accounts.items()}
    carried = {jid for jid in w.disputed if moved.get(jid) in frozen}
    lifted = w.disputed - frozen - carried - w.dispute_lifted
    if lifted:
        raise Violation(f"dispute freeze lifted, not by an operator: {sorted(lifted)}")
    w.disputed, w.dispute_lifted = frozen, set()


async def check_cards_settled(w: World) -> None:
    for made in w.cards.paid():
        found = [e for e in await w.store.ledger.all_entries(made.jid)
                 if e.ref == f"stripe:{made.payment_intent}"]  # fmt: skip
        if len(found) != 1:
            raise Violation(f"{made.payment_intent} of {made.jid}: credited {len(found)} times")
    for jid in w.jids:
        if charge := await w.store.redis.hgetall(keys.card_charge(jid)):
            raise Violation(f"{jid}: a card charge is still in flight after the end: {charge}")

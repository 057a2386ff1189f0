"""The record the repair reads of one account (``store.repair_view``, ``repair.repair_fixes``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RepairView:
    """What the repair reads of one account, in one round trip."""

    jid: str
    account: Mapping[str, str]
    freezes: Mapping[str, str]
    open_invoices: int
    move: bool  # a join or a leave of this account is in flight
    unfinished_joins: int  # leaves this main paid for whose join is not finished
    group: str
    main: str  # the group's main ('' when not in a group)
    prepaid: int
    grants: tuple[datetime, ...]  # expiry of each live grant
    usage_open: int  # months holding usage not yet settled
    account_move: str  # the state of a move of this account to a new JID ('' none)
    scheduled: Mapping[str, float | None] = field(default_factory=dict)  # schedule -> score
    cards: int = 0  # saved cards (an open invoice is tried on them: ``payment-card_due``)

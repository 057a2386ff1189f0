"""Moves: the records, the steps and the refusals (no I/O).

A move takes everything of an account from its old JID to a new one. Both sides
consent: the old JID asks (``move NEWJID``), the new JID claims the code sent to it
(``claim CODE``); an operator may do both (``admin move OLD NEW``). The new JID
must be no account, or a trial never used; the old one becomes a stranger (its
account closed, naming where it moved).

No script touches two accounts: a move is a chain of single-account steps, each
idempotent, recorded on the old account (``payment-move-{OLD}``) so that the
``repair`` chore, or the new JID claiming again, finishes it after a crash at any
step (``flow.py`` says which).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payments.errors import CorruptRecord, PaymentsError


class MoveState(StrEnum):
    OFFERED = "offered"  # asked for; not claimed yet (nothing changed)
    CLAIMED = "claimed"  # the new JID agreed: the move goes on to its end
    SEALED = "sealed"  # the old account closed, its snapshot in the record: finish it
    DONE = "done"


class Step(StrEnum):
    """The step boundaries of a move, where ``MoveFlow.hook`` is called (tests crash there)."""

    CLAIMED = "claimed"  # the old account's record says the new JID agreed
    RESERVED = "reserved"  # the new JID held (status 'moving')
    SEALED = "sealed"  # the old account closed, its balances carried out
    ARRIVED = "arrived"  # the new JID is the account
    GROUP = "group"  # its payer group names the new JID
    NUMBER = "number"  # its number points at the new JID
    CODES = "codes"  # the old JID's codes revoked
    SCHEDULED = "scheduled"  # the schedules hold the new JID
    TOLD = "told"


STEPS = tuple(Step)


@dataclass(frozen=True, slots=True)
class MoveRecord:
    """``payment-move-{OLD}``: one move of that account."""

    id: str
    new: str
    code: str  # '' for an operator's move
    at: datetime
    by: str
    state: MoveState
    snapshot: str = ""  # JSON, while sealed

    @classmethod
    def decode(cls, fields: Mapping[str, str]) -> MoveRecord:
        try:
            return cls(
                id=fields["id"],
                new=fields["new"],
                code=fields.get("code", ""),
                at=datetime.fromisoformat(fields["at"]),
                by=fields.get("by", ""),
                state=MoveState(fields["state"]),
                snapshot=fields.get("snapshot", ""),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"move record: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the old account was when it was sealed (``lua/move_seal.lua``'s JSON)."""

    account: Mapping[str, str]
    group: str
    plans: tuple[str, ...]  # months of the plan snapshots it carries
    invoices: tuple[str, ...]  # periods
    usage: tuple[str, ...]  # months of usage counters
    referral_code: str = ""  # its referral code (revoked once it moved)
    raw: str = field(default="", repr=False)

    @property
    def number(self) -> str:
        return self.account.get("number", "")

    @classmethod
    def decode(cls, text: str) -> Snapshot:
        try:
            data: dict[str, Any] = json.loads(text)
            account = _table(data["account"])
            return cls(
                account=account,
                group=str(data.get("group") or ""),
                plans=tuple(sorted(_table(data.get("plans")))),
                invoices=tuple(sorted(_table(data.get("invoices")))),
                usage=tuple(sorted(_table(data.get("usage")))),
                referral_code=str(_table(data.get("referrals")).get("code", "")),
                raw=text,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptRecord(f"move snapshot: {exc!r}") from exc


def _table(value: Any) -> dict[str, Any]:
    """A JSON object (an empty one may have been written as ``[]``)."""
    return dict(value) if isinstance(value, dict) else {}


def new_jid_refusal(new: str, old: str) -> str:
    """Why a move to ``new`` is refused before anything is written ('' when it is not)."""
    if new == old:
        return "That is this account's own address."
    return ""


class MoveRefused(PaymentsError):
    """The old account cannot move now; the message says why (to the old JID or an operator)."""

"""Accounts: who is a user, of which kind, on which plan, frozen or not."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from payments.clock import parse_instant
from payments.errors import CorruptRecord


class AccountKind(StrEnum):
    TRIAL = "trial"
    PAID = "paid"  # pays for itself (and for its leaves: a "main")
    LEAF = "leaf"  # paid for by a main account


class AccountStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"  # for a debt, or by a move (``moved_to``): kept with its ledger
    MOVING = "moving"  # a move is arriving at this JID (payments/moves/): nothing else changes it


class FreezeKind(StrEnum):
    BILLING = "billing"  # set and lifted by the chores and by payment
    VIOLATION = "violation"  # operator kinds: only an operator lifts them
    LEGAL = "legal"
    DISPUTE = "dispute"  # a card payment disputed (a chargeback): an operator looks, then lifts


@dataclass(frozen=True, slots=True)
class Account:
    jid: str
    kind: AccountKind
    status: AccountStatus
    registered_at: datetime
    plan: str
    trial_ends_at: datetime | None = None
    next_renewal_at: datetime | None = None
    next_plan: str = ""  # chosen with `plan ID`, applied at the next renewal
    number: str = ""  # E.164 phone number, when one is assigned
    freezes: frozenset[FreezeKind] = field(default_factory=frozenset)
    currency: str = "USD"  # what its money counts in (payments/store/currencies.py)
    moved_to: str = ""  # closed by a move (payments/moves/): the JID that holds it now

    @property
    def frozen(self) -> bool:
        return bool(self.freezes)

    @property
    def closed(self) -> bool:
        return self.status is AccountStatus.CLOSED

    @property
    def open(self) -> bool:
        """An account its holder uses: not closed, not a move arriving."""
        return self.status is AccountStatus.ACTIVE

    @classmethod
    def decode(
        cls, jid: str, fields: Mapping[str, str], freezes: Mapping[str, str], default_currency: str
    ) -> Account:
        try:
            return cls(
                jid=jid,
                kind=AccountKind(fields["kind"]),
                status=AccountStatus(fields["status"]),
                registered_at=datetime.fromisoformat(fields["registered_at"]),
                plan=fields["plan"],
                trial_ends_at=parse_instant(fields.get("trial_ends_at")),
                next_renewal_at=parse_instant(fields.get("next_renewal_at")),
                next_plan=fields.get("next_plan", ""),
                number=fields.get("number", ""),
                freezes=frozenset(FreezeKind(k) for k in freezes),
                currency=fields.get("currency") or default_currency,
                moved_to=fields.get("moved_to", ""),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"account {jid}: {exc!r}") from exc


def trial_end(registered_at: datetime, trial_days: int) -> datetime:
    return registered_at + timedelta(days=trial_days)


TRIAL_PLAN = "trial"


@dataclass(frozen=True, slots=True)
class FreezeRecord:
    """One ``payment-freezes-{JID}`` field: who froze the account, when, why, from which state."""

    kind: FreezeKind
    who: str
    when: datetime
    why: str
    state: dict[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps(
            {"who": self.who, "when": self.when.isoformat(), "why": self.why, "state": self.state},
            sort_keys=True,
        )

    @classmethod
    def decode(cls, kind: str, text: str) -> FreezeRecord:
        try:
            data = json.loads(text)
            return cls(
                kind=FreezeKind(kind),
                who=str(data["who"]),
                when=datetime.fromisoformat(data["when"]),
                why=str(data["why"]),
                state={str(k): str(v) for k, v in data.get("state", {}).items()},
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptRecord(f"freeze record {kind}: {exc!r}") from exc


def state_of(account: Account) -> dict[str, str]:
    """What a freeze records of the account it freezes (so lifting it can be checked)."""
    return {
        "kind": account.kind.value,
        "status": account.status.value,
        "plan": account.plan,
        "frozen_before": ",".join(sorted(k.value for k in account.freezes)),
    }

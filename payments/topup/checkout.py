"""A checkout: a payment created at a provider for one account, before the user pays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payments.errors import CorruptRecord
from payments.money import Money


class PaymentStatus(StrEnum):
    PENDING = "pending"
    CREDITED = "credited"


@dataclass(frozen=True, slots=True)
class PendingPayment:
    """A payment created at a provider for one account, recorded before the user pays."""

    provider: str
    provider_id: str
    jid: str
    amount: Money
    created_at: datetime
    status: PaymentStatus = PaymentStatus.PENDING

    def fields(self) -> dict[str, str]:
        return {
            "provider": self.provider,
            "provider_id": self.provider_id,
            "jid": self.jid,
            "amount": str(self.amount.units),
            "currency": self.amount.currency,
            "created_at": self.created_at.isoformat(),
            "status": self.status.value,
        }

    @classmethod
    def decode(cls, fields: Mapping[str, str], default_currency: str) -> PendingPayment:
        """A record; its amount in its ``currency`` (a record from before: the default)."""
        currency = fields.get("currency") or default_currency
        try:
            return cls(
                provider=fields["provider"],
                provider_id=fields["provider_id"],
                jid=fields["jid"],
                amount=Money(int(fields["amount"]), currency),
                created_at=datetime.fromisoformat(fields["created_at"]),
                status=PaymentStatus(fields["status"]),
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"checkout record: {exc!r}") from exc

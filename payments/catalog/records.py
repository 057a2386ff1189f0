"""The plan catalog: versioned prices; accounts keep the version they bought."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from payments.errors import CorruptRecord
from payments.money import Money


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    version: int
    name: str
    price: Money  # per month
    created_at: datetime
    allowances: dict[str, int] = field(default_factory=dict)  # resource -> monthly quantity

    def encode(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "version": self.version,
                "name": self.name,
                "price": self.price.units,
                "created_at": self.created_at.isoformat(),
                "allowances": self.allowances,
            },
            sort_keys=True,
        )

    @classmethod
    def decode(cls, text: str, currency: str) -> Plan:
        try:
            data = json.loads(text)
            return cls(
                id=data["id"],
                version=int(data["version"]),
                name=data["name"],
                price=Money(int(data["price"]), currency),
                created_at=datetime.fromisoformat(data["created_at"]),
                allowances={str(k): int(v) for k, v in data.get("allowances", {}).items()},
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptRecord(f"plan record: {exc!r}") from exc

"""The catalog: plans and credit packs, each a versioned offer.

A price change is a new version: ``payment-plan_versions-ID`` and
``payment-pack_versions-ID`` keep every version ever sold, and accounts keep
the version and price they bought at (a plan snapshot, an autobuy snapshot,
a grant). Both kinds of offer share one store (``catalog/store.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Protocol, Self

from payments.accounts.records import TRIAL_PLAN
from payments.errors import CorruptRecord, PaymentsError
from payments.money import Money

OFFER_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}", re.ASCII)


class BadOffer(PaymentsError):
    """A plan or pack definition an operator typed that we refuse."""


class UnknownPack(PaymentsError):
    def __init__(self, pack_id: str) -> None:
        super().__init__(f"there is no pack '{pack_id}': send 'credits' to see them")
        self.pack_id = pack_id


class Offer(Protocol):
    """What the catalog store needs of a plan or a pack."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    def offer(self) -> tuple[object, ...]: ...
    def encode(self) -> str: ...
    def numbered(self, version: int) -> Self: ...


def check_offer_id(text: str, kind: str = "plan") -> str:
    """A plan or pack id: 1 to 32 lower-case letters, digits, '-' or '_'."""
    if not OFFER_ID_RE.fullmatch(text) or (kind == "plan" and text == TRIAL_PLAN):
        trial = " (and not 'trial')" if kind == "plan" else ""
        raise BadOffer(f"a {kind} id is 1 to 32 lower-case letters, digits, '-' or '_'{trial}")
    return text


def parse_allowance(text: str, resources: Sequence[str]) -> tuple[str, int]:
    """``sms=100`` -> ``("sms", 100)``; ``resources`` is the deployment's ``[usage] resources``."""
    resource, eq, quantity = text.partition("=")
    resource = resource.strip().lower()
    if not eq or resource not in resources or not quantity.strip().isdigit():
        raise BadOffer(f"an allowance is RESOURCE=QUANTITY with RESOURCE in {', '.join(resources)}")
    return resource, int(quantity)


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    version: int
    name: str
    price: Money  # per month
    created_at: datetime
    allowances: dict[str, int] = field(default_factory=dict)  # resource -> monthly quantity

    def offer(self) -> tuple[object, ...]:
        """What a subscriber buys: a version that changes none of it is not a new version."""
        return (self.name, self.price, self.allowances)

    def encode(self) -> str:
        # sort_keys keeps '"version": N' in the form plan_publish.lua matches.
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

    def numbered(self, version: int) -> Plan:
        return replace(self, version=version)


@dataclass(frozen=True, slots=True)
class Pack:
    id: str
    version: int
    resource: str
    quantity: int
    price: Money
    created_at: datetime

    @property
    def name(self) -> str:
        return f"{self.quantity} {self.resource}"

    def offer(self) -> tuple[object, ...]:
        return (self.resource, self.quantity, self.price)

    def encode(self) -> str:
        # sort_keys keeps '"version": N' in the form plan_publish.lua matches.
        return json.dumps(
            {
                "id": self.id,
                "version": self.version,
                "resource": self.resource,
                "quantity": self.quantity,
                "price": self.price.units,
                "created_at": self.created_at.isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def decode(cls, text: str, currency: str) -> Pack:
        try:
            data = json.loads(text)
            return cls(
                id=str(data["id"]),
                version=int(data["version"]),
                resource=str(data["resource"]),
                quantity=int(data["quantity"]),
                price=Money(int(data["price"]), currency),
                created_at=datetime.fromisoformat(data["created_at"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptRecord(f"pack record: {exc!r}") from exc

    def numbered(self, version: int) -> Pack:
        return replace(self, version=version)


def revise_plan(
    current: Plan | None,
    plan_id: str,
    at: datetime,
    *,
    price: Money | None = None,
    name: str | None = None,
    allowances: dict[str, int] | None = None,
) -> Plan:
    """The next version of a plan with what is given (the rest kept), or its first."""
    if current is None:
        if price is None or not name:
            raise BadOffer(f"plan {plan_id} is new: it needs a price and a name")
        return Plan(plan_id, 1, name, price, at, dict(allowances or {}))
    return Plan(
        plan_id,
        current.version + 1,
        name or current.name,
        price if price is not None else current.price,
        at,
        dict(current.allowances if allowances is None else allowances),
    )


def revise_pack(
    current: Pack | None,
    pack_id: str,
    at: datetime,
    *,
    resource: str | None = None,
    quantity: int | None = None,
    price: Money | None = None,
) -> Pack:
    """The next version of a pack with what is given (the rest kept), or its first."""
    if current is None:
        if resource is None or quantity is None or price is None:
            raise BadOffer(f"pack {pack_id} is new: it needs a resource, a quantity and a price")
        return Pack(pack_id, 1, resource, quantity, price, at)
    return Pack(
        pack_id,
        current.version + 1,
        resource or current.resource,
        quantity if quantity is not None else current.quantity,
        price if price is not None else current.price,
        at,
    )

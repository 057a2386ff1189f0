"""The catalog: plans and credit packs, each a versioned offer.

A price change is a new version: ``payment-plan_versions-ID`` and
``payment-pack_versions-ID`` keep every version ever sold, and accounts keep
the version and price they bought at (a plan snapshot, an autobuy snapshot,
a grant). Both kinds of offer share one store (``catalog/store.py``).

An offer has a price per currency (``prices``); a record read from Redis is a
*view* in one currency, whose ``price`` is the price in that currency
(``in_currency``): an account sees the offers priced in its own currency, at
that price, and no other. A record written before prices per currency holds
one ``price``: the default currency's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
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
    @property
    def price(self) -> Money: ...
    def offer(self) -> tuple[object, ...]: ...
    def encode(self) -> str: ...
    def numbered(self, version: int) -> Self: ...
    def in_currency(self, currency: str) -> Self | None: ...


def priced(price: Money, prices: Mapping[str, Money]) -> dict[str, Money]:
    """Every price of an offer: ``prices``, with ``price`` among them."""
    return {price.currency: price, **{c: p for c, p in prices.items() if c != price.currency}}


def encode_prices(prices: Mapping[str, Money]) -> dict[str, int]:
    return {currency: price.units for currency, price in sorted(prices.items())}


def decode_prices(data: Mapping[str, object], default: str) -> dict[str, Money]:
    """``prices`` of a record, or the one ``price`` of an older one (the default currency)."""
    found = data.get("prices")
    if isinstance(found, dict) and found:
        return {str(c): Money(int(u), str(c)) for c, u in found.items()}
    return {default: Money(int(str(data["price"])), default)}


def view(prices: Mapping[str, Money], currency: str) -> Money:
    """The price of a view in ``currency``: that currency's, else the first there is."""
    return prices.get(currency) or prices[sorted(prices)[0]]


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
    price: Money  # per month, in the currency of this view
    created_at: datetime
    allowances: dict[str, int] = field(default_factory=dict)  # resource -> monthly quantity
    prices: Mapping[str, Money] = field(default_factory=dict)  # every currency's price

    def __post_init__(self) -> None:
        object.__setattr__(self, "prices", priced(self.price, self.prices))

    def offer(self) -> tuple[object, ...]:
        """What a subscriber buys: a version that changes none of it is not a new version."""
        return (self.name, sorted(self.prices.items()), self.allowances)

    def in_currency(self, currency: str) -> Plan | None:
        """This plan as an account counting in ``currency`` buys it; None: not sold there."""
        price = self.prices.get(currency)
        return None if price is None else replace(self, price=price)

    def encode(self) -> str:
        # sort_keys keeps '"version": N' in the form plan_publish.lua matches.
        return json.dumps(
            {
                "id": self.id,
                "version": self.version,
                "name": self.name,
                "price": self.price.units,
                "prices": encode_prices(self.prices),
                "created_at": self.created_at.isoformat(),
                "allowances": self.allowances,
            },
            sort_keys=True,
        )

    @classmethod
    def decode(cls, text: str, currency: str) -> Plan:
        """A record as a view in ``currency`` (the default currency)."""
        try:
            data = json.loads(text)
            prices = decode_prices(data, currency)
            return cls(
                id=data["id"],
                version=int(data["version"]),
                name=data["name"],
                price=view(prices, currency),
                created_at=datetime.fromisoformat(data["created_at"]),
                allowances={str(k): int(v) for k, v in data.get("allowances", {}).items()},
                prices=prices,
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
    price: Money  # in the currency of this view
    created_at: datetime
    prices: Mapping[str, Money] = field(default_factory=dict)  # every currency's price

    def __post_init__(self) -> None:
        object.__setattr__(self, "prices", priced(self.price, self.prices))

    @property
    def name(self) -> str:
        return f"{self.quantity} {self.resource}"

    def offer(self) -> tuple[object, ...]:
        return (self.resource, self.quantity, sorted(self.prices.items()))

    def in_currency(self, currency: str) -> Pack | None:
        price = self.prices.get(currency)
        return None if price is None else replace(self, price=price)

    def encode(self) -> str:
        # sort_keys keeps '"version": N' in the form plan_publish.lua matches.
        return json.dumps(
            {
                "id": self.id,
                "version": self.version,
                "resource": self.resource,
                "quantity": self.quantity,
                "price": self.price.units,
                "prices": encode_prices(self.prices),
                "created_at": self.created_at.isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def decode(cls, text: str, currency: str) -> Pack:
        try:
            data = json.loads(text)
            prices = decode_prices(data, currency)
            return cls(
                id=str(data["id"]),
                version=int(data["version"]),
                resource=str(data["resource"]),
                quantity=int(data["quantity"]),
                price=view(prices, currency),
                created_at=datetime.fromisoformat(data["created_at"]),
                prices=prices,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptRecord(f"pack record: {exc!r}") from exc

    def numbered(self, version: int) -> Pack:
        return replace(self, version=version)


def revise_prices(
    current: Mapping[str, Money], prices: Sequence[Money], replace_all: bool
) -> dict[str, Money]:
    """The prices of a new version: those given, and (unless ``replace_all``) the others kept."""
    given = {price.currency: price for price in prices}
    return given if replace_all else {**current, **given}


def revise_plan(
    current: Plan | None,
    plan_id: str,
    at: datetime,
    *,
    prices: Sequence[Money] = (),
    name: str | None = None,
    allowances: dict[str, int] | None = None,
    replace_prices: bool = False,
) -> Plan:
    """The next version of a plan with what is given (the rest kept), or its first. A price
    given is that currency's; the other currencies keep theirs (``replace_prices``: only
    the prices given, as the config declares them)."""
    if current is None:
        if not prices or not name:
            raise BadOffer(f"plan {plan_id} is new: it needs a price and a name")
        first = revise_prices({}, prices, True)
        return Plan(plan_id, 1, name, prices[0], at, dict(allowances or {}), first)
    new = revise_prices(current.prices, prices, replace_prices and bool(prices))
    return Plan(
        plan_id,
        current.version + 1,
        name or current.name,
        view(new, current.price.currency),
        at,
        dict(current.allowances if allowances is None else allowances),
        new,
    )


def revise_pack(
    current: Pack | None,
    pack_id: str,
    at: datetime,
    *,
    resource: str | None = None,
    quantity: int | None = None,
    prices: Sequence[Money] = (),
    replace_prices: bool = False,
) -> Pack:
    """The next version of a pack with what is given (the rest kept), or its first."""
    if current is None:
        if resource is None or quantity is None or not prices:
            raise BadOffer(f"pack {pack_id} is new: it needs a resource, a quantity and a price")
        first = revise_prices({}, prices, True)
        return Pack(pack_id, 1, resource, quantity, prices[0], at, first)
    new = revise_prices(current.prices, prices, replace_prices and bool(prices))
    return Pack(
        pack_id,
        current.version + 1,
        resource or current.resource,
        quantity if quantity is not None else current.quantity,
        view(new, current.price.currency),
        at,
        new,
    )

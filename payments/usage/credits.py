"""Credit packs and the credits they grant: the rules, without I/O.

A *pack* is an offer in the catalog (so many units of one resource for a
price), versioned like plans: a purchase keeps the version and price it was
bought at. A *grant* is what one purchase gave an account: ``quantity``
units of ``resource``, ``left`` of them unused, valid until ``expires_at``
(365 days by default). Credits are used only beyond the plan's monthly
allowance, earliest expiry first. *Autobuy* buys a pack again at every
renewal, at the version and price snapshotted when it was turned on.

Grants are stored as one compact string each (``encode``) so that the Lua
scripts that consume and expire them (``payments/store/lua/usage_settle.lua``,
``credit_expire.lua``) read the same fields this module does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from payments.billing.rules import ChargeLine
from payments.catalog.records import Pack
from payments.clock import as_utc, epoch
from payments.errors import CorruptRecord, PaymentsError
from payments.money import Money

# The member of a renewal line that buys a pack: "pack sms1000", so that the
# invoice reads "pack sms1000 $10.00" and the ledger "credits 2026-04 for pack sms1000".
AUTOBUY_PREFIX: Final = "pack "
DEFAULT_DAYS: Final = 365  # credits are valid this long unless [usage] credit_days says otherwise


class BuyRefused(PaymentsError):
    """A purchase that may not happen now (frozen, closed, a leaf)."""


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    resource: str
    quantity: int
    left: int
    expires_at: datetime
    pack: str
    version: int
    price: Money
    bought_at: datetime

    def live(self, now: datetime) -> bool:
        return self.left > 0 and self.expires_at > now

    def encode(self) -> str:
        return "|".join(
            [
                self.resource,
                str(self.quantity),
                str(self.left),
                str(epoch(self.expires_at)),
                self.pack,
                self.expires_at.strftime("%Y-%m-%d"),
                str(self.version),
                str(self.price.units),
                self.bought_at.isoformat(),
            ]
        )

    @classmethod
    def decode(cls, grant_id: str, text: str, currency: str) -> Grant:
        try:
            resource, quantity, left, expires, pack, _day, version, price, bought = text.split("|")
            return cls(
                id=grant_id,
                resource=resource,
                quantity=int(quantity),
                left=int(left),
                expires_at=datetime.fromtimestamp(int(expires), UTC),
                pack=pack,
                version=int(version),
                price=Money(int(price), currency),
                bought_at=datetime.fromisoformat(bought),
            )
        except ValueError as exc:
            raise CorruptRecord(f"credit grant {grant_id}: {exc!r}") from exc


def new_grant(grant_id: str, pack: Pack, price: Money, bought_at: datetime, days: int) -> Grant:
    """What buying ``pack`` at ``price`` grants; valid ``days`` from the purchase."""
    bought_at = as_utc(bought_at)
    expires = bought_at + timedelta(days=days)
    return Grant(
        grant_id,
        pack.resource,
        pack.quantity,
        pack.quantity,
        expires,
        pack.id,
        pack.version,
        price,
        bought_at,
    )


def by_expiry(grants: Iterable[Grant]) -> list[Grant]:
    """Earliest expiry first (then by id): the order credits are used in."""
    return sorted(grants, key=lambda g: (epoch(g.expires_at), g.id))


def available(grants: Iterable[Grant], resource: str, now: datetime) -> int:
    return sum(g.left for g in grants if g.resource == resource and g.live(now))


def pending_of(pending: Mapping[str, str], resource: str) -> int:
    """Credits of ``resource`` drawn and not yet settled (own use and every leaf's)."""
    return sum(
        int(quantity)
        for name, quantity in pending.items()
        if name == resource or name.startswith(resource + "|")
    )


def pool(grants: Iterable[Grant], pending: Mapping[str, str], resource: str, now: datetime) -> int:
    """Credits an account may still draw on: live grants less what is drawn but unsettled."""
    return available(grants, resource, now) - pending_of(pending, resource)


def earliest_expiry(grants: Iterable[Grant]) -> datetime | None:
    ordered = by_expiry(g for g in grants if g.left > 0)
    return ordered[0].expires_at if ordered else None


def expiring(grants: Iterable[Grant], now: datetime, days: int) -> list[Grant]:
    """Live grants that expire within ``days``: users are told once about each."""
    horizon = now + timedelta(days=days)
    return [g for g in by_expiry(grants) if g.live(now) and g.expires_at <= horizon]


# --- autobuy -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutoBuy:
    """A pack bought again at every renewal, at the price of the version snapshotted here."""

    pack: str
    version: int
    resource: str
    quantity: int
    price: Money
    days: int  # validity of the credits, snapshotted with the price
    since: datetime

    def encode(self) -> str:
        return "|".join(
            [
                str(self.version),
                self.resource,
                str(self.quantity),
                str(self.price.units),
                str(self.days),
                self.since.isoformat(),
            ]
        )

    @classmethod
    def decode(cls, pack_id: str, text: str, currency: str) -> AutoBuy:
        try:
            version, resource, quantity, price, days, since = text.split("|")
            return cls(
                pack_id,
                int(version),
                resource,
                int(quantity),
                Money(int(price), currency),
                int(days),
                datetime.fromisoformat(since),
            )
        except ValueError as exc:
            raise CorruptRecord(f"autobuy {pack_id}: {exc!r}") from exc

    @classmethod
    def of(cls, pack: Pack, since: datetime, days: int) -> AutoBuy:
        return cls(pack.id, pack.version, pack.resource, pack.quantity, pack.price, days, since)

    def as_pack(self) -> Pack:
        return Pack(self.pack, self.version, self.resource, self.quantity, self.price, self.since)


def autobuy_line(auto: AutoBuy) -> ChargeLine:
    """The renewal line of a recurring pack (an invoice line like a leaf's)."""
    return ChargeLine(AUTOBUY_PREFIX + auto.pack, "credits", auto.price)


def autobuy_pack(line: ChargeLine) -> str:
    """The pack id of a renewal line, or '' for a plan or leaf line."""
    return (
        line.member.removeprefix(AUTOBUY_PREFIX) if line.member.startswith(AUTOBUY_PREFIX) else ""
    )


def autobuy_grant_id(period: str, pack_id: str) -> str:
    return f"auto-{period}-{pack_id}"

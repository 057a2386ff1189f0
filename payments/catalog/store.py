"""The catalog in Redis: one versioned store for plans and for credit packs.

``payment-plan_versions-ID`` / ``payment-pack_versions-ID`` keep every version
ever sold; ``payment-plans`` / ``payment-packs`` name the current one. A change
writes the new version first (HSETNX: two operators at once get two
versions), then publishes it unless a newer one is already current
(``plan_publish.lua``). The two keys are global, in different hash slots, so
the two steps are separate; a crash between them leaves a version that the
next change supersedes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from payments import keys
from payments.catalog.records import Offer, Pack, Plan, revise_pack, revise_plan
from payments.money import Money
from payments.store.connection import RedisClient
from payments.store.scripts import Scripts

OfferT = TypeVar("OfferT", bound=Offer)
KEEP_VERSIONS = 1000  # offer versions a process keeps (a catalog holds a few dozen)


class Catalog(Generic[OfferT]):
    """The offers of one kind: the current version of each, and every version sold."""

    def __init__(
        self,
        redis: RedisClient,
        scripts: Scripts,
        *,
        current: str,
        versions: Callable[[str], str],
        decode: Callable[[str], OfferT],
        order: Callable[[OfferT], tuple[Any, ...]],
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._current = current
        self._versions = versions
        self._decode = decode
        self._order = order
        self._kept: dict[tuple[str, int], OfferT] = {}

    async def all(self) -> list[OfferT]:
        """The current version of every offer, in catalog order."""
        raw: Any = await self._redis.hgetall(self._current)
        return sorted((self._decode(text) for text in raw.values()), key=self._order)

    async def get(self, offer_id: str) -> OfferT | None:
        text: Any = await self._redis.hget(self._current, offer_id)
        return self._decode(text) if text else None

    async def offered(self, currency: str) -> list[OfferT]:
        """The current offers priced in ``currency``, at that price, in catalog order (an
        account sees these: an offer without a price in its currency is not for it)."""
        views = [o.in_currency(currency) for o in await self.all()]
        return sorted((v for v in views if v is not None), key=self._order)

    async def get_in(self, offer_id: str, currency: str) -> OfferT | None:
        """The offer at its price in ``currency``; None when absent or not priced there."""
        found = await self.get(offer_id)
        return found.in_currency(currency) if found is not None else None

    async def version(self, offer_id: str, version: int) -> OfferT | None:
        text: Any = await self._redis.hget(self._versions(offer_id), str(version))
        return self._decode(text) if text else None

    async def version_kept(self, offer_id: str, version: int) -> OfferT | None:
        """``version`` read once per process: a version, once written, never changes
        (HSETNX above), so the bot names a plan without a round trip per request."""
        kept = self._kept.get((offer_id, version))
        if kept is None and (kept := await self.version(offer_id, version)) is not None:
            if len(self._kept) >= KEEP_VERSIONS:
                self._kept.clear()
            self._kept[(offer_id, version)] = kept
        return kept

    async def versions(self, offer_id: str) -> list[OfferT]:
        raw: Any = await self._redis.hgetall(self._versions(offer_id))
        return sorted((self._decode(t) for t in raw.values()), key=lambda o: o.version)

    async def publish(self, wanted: OfferT) -> tuple[OfferT, bool]:
        """Make ``wanted`` the next version; (the current one, False) when it changes nothing."""
        current = await self.get(wanted.id)
        if current is not None and current.offer() == wanted.offer():
            return current, False
        version = current.version + 1 if current is not None else 1
        while not await self._redis.hsetnx(
            self._versions(wanted.id), str(version), wanted.numbered(version).encode()
        ):
            version += 1  # another operator took this number first
        offer = wanted.numbered(version)
        await self._scripts.call(
            "plan_publish", [self._current], [offer.id, version, offer.encode()]
        )
        return offer, True


class PlanCatalog(Catalog[Plan]):
    def __init__(self, redis: RedisClient, scripts: Scripts, currency: str) -> None:
        super().__init__(
            redis,
            scripts,
            current=keys.PLANS,
            versions=keys.plan_versions,
            decode=lambda text: Plan.decode(text, currency),
            order=lambda plan: (plan.price.units, plan.id),  # cheapest first
        )

    async def put(
        self,
        plan_id: str,
        *,
        at: datetime,
        price: Money | None = None,
        prices: Sequence[Money] = (),
        name: str | None = None,
        allowances: dict[str, int] | None = None,
        replace_prices: bool = False,
    ) -> tuple[Plan, bool]:
        """A new version with what is given (the rest kept); (plan, False) when nothing changed.
        ``price`` and ``prices`` are prices in their currencies (others are kept, unless
        ``replace_prices``)."""
        current = await self.get(plan_id)
        wanted = revise_plan(
            current, plan_id, at, prices=_given(price, prices), name=name,
            allowances=allowances, replace_prices=replace_prices,
        )  # fmt: skip
        return await self.publish(wanted)


class PackCatalog(Catalog[Pack]):
    def __init__(self, redis: RedisClient, scripts: Scripts, currency: str) -> None:
        super().__init__(
            redis,
            scripts,
            current=keys.PACKS,
            versions=keys.pack_versions,
            decode=lambda text: Pack.decode(text, currency),
            order=lambda pack: (pack.resource, pack.quantity, pack.id),
        )

    async def put(
        self,
        pack_id: str,
        *,
        at: datetime,
        resource: str | None = None,
        quantity: int | None = None,
        price: Money | None = None,
        prices: Sequence[Money] = (),
        replace_prices: bool = False,
    ) -> tuple[Pack, bool]:
        """A new version with what is given (the rest kept); (pack, False) when nothing changed."""
        current = await self.get(pack_id)
        wanted = revise_pack(
            current, pack_id, at, resource=resource, quantity=quantity,
            prices=_given(price, prices), replace_prices=replace_prices,
        )  # fmt: skip
        return await self.publish(wanted)


def _given(price: Money | None, prices: Sequence[Money]) -> list[Money]:
    return ([price] if price is not None else []) + list(prices)

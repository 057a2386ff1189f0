"""The catalog a deployment declares in its config (``[[plans]]``, ``[[packs]]``),
applied when the bot and the web service start.

Applying is idempotent: each declared offer goes through the versioned store
(``catalog/store.py``), where a version that changes nothing a subscriber buys
is not a new version, and a change is a new version that only new purchases
get (subscribers keep the snapshot they bought). An offer in Redis that the
config does not declare (``accountbot admin plan set``) is left alone.

The bot and the web service start together: one applies at a time (the
``catalog`` lock), the other then finds nothing to change. A process whose
``[billing] default_plan`` is neither declared nor in Redis refuses to start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from payments.catalog.records import BadOffer, Pack, Plan, check_offer_id
from payments.config import Config, ConfigError
from payments.stores import Store

log = logging.getLogger(__name__)

LOCK: Final = "catalog"
LOCK_WAIT_SECONDS: Final = 30.0
LOCK_POLL_SECONDS: Final = 0.05


@dataclass(frozen=True, slots=True)
class Applied:
    """What a start found: each declared offer as now current, and whether it changed."""

    plans: tuple[tuple[Plan, bool], ...] = ()
    packs: tuple[tuple[Pack, bool], ...] = ()

    def summary(self) -> str:
        offers: list[tuple[Plan | Pack, bool]] = [*self.plans, *self.packs]
        changed = [f"{offer.id} v{offer.version}" for offer, new in offers if new]
        total = len(offers)
        if not changed:
            return f"catalog: {total} declared offers, none changed"
        return f"catalog: {total} declared offers, new versions: {', '.join(changed)}"


def check_ids(config: Config) -> None:
    """Every declared id is one users can type (the rule of ``check_offer_id``)."""
    for section, kind, ids in (
        ("plans", "plan", [p.id for p in config.plans]),
        ("packs", "pack", [p.id for p in config.packs]),
    ):
        for offer_id in ids:
            try:
                check_offer_id(offer_id, kind)
            except BadOffer as exc:
                raise ConfigError(f"[{section}.{offer_id}] id: {exc}") from None


async def apply_declared(store: Store, config: Config, at: datetime) -> Applied:
    """Publish what the config declares (new versions only where it changed)."""
    check_ids(config)
    lock = store.locks.chore(LOCK)
    await _acquire(lock.acquire)
    try:
        plans = [
            await store.plans.put(
                p.id, at=at, prices=list(p.all_prices().values()), name=p.name,
                allowances=dict(p.allowances), replace_prices=True,
            )
            for p in config.plans
        ]  # fmt: skip
        packs = [
            await store.packs.put(
                p.id, at=at, resource=p.resource, quantity=p.quantity,
                prices=list(p.all_prices().values()), replace_prices=True,
            )
            for p in config.packs
        ]  # fmt: skip
    finally:
        await lock.release()
    return Applied(tuple(plans), tuple(packs))


async def _acquire(acquire: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not await acquire():
        if time.monotonic() > deadline:
            raise ConfigError("[[plans]]: another process has been applying the catalog for 30 s")
        await asyncio.sleep(LOCK_POLL_SECONDS)


async def check_default_plan(store: Store, config: Config) -> Plan:
    """The default plan, priced in every currency, or ConfigError naming
    ``[billing] default_plan`` (a trial activates on it, whatever it counts in)."""
    plan_id = config.billing.default_plan
    plan = await store.plans.get(plan_id)
    if plan is None:
        raise ConfigError(
            f"[billing] default_plan: {plan_id!r} is neither declared in [[plans]] nor in the "
            "catalog in Redis (accountbot admin plan list)"
        )
    missing = [c for c in config.billing.currencies if c not in plan.prices]
    if missing:
        raise ConfigError(
            f"[billing] default_plan: {plan_id!r} has no price in {', '.join(missing)} "
            "(every currency of [billing] currencies needs one)"
        )
    return plan


async def prepare_catalog(store: Store, config: Config, at: datetime) -> Applied:
    """At start: apply the declared catalog, then make sure the default plan exists."""
    applied = await apply_declared(store, config, at)
    log.info(applied.summary())
    await check_default_plan(store, config)
    return applied

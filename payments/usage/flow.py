"""Usage metering and credit packs, one account at a time: ingest, authorize, buy, settle,
expire, and the two hooks the renewal calls for recurring packs.

Every step is a single-account atomic script (``payments/store/usage.py``,
``payments/store/credits.py``), idempotent by the gateway's event id, the
purchase's ref or the settlement slot. A leaf's usage beyond its allowance
is drawn on its main's credits in two steps (recorded on the leaf, then
applied on the main once per event); whatever runs next (a replayed batch,
the settle chore) completes a pair a crash cut in half.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from payments.accounts.records import TRIAL_PLAN
from payments.billing.rules import ChargeLine
from payments.catalog.records import UnknownPack
from payments.clock import epoch, month_of
from payments.config import UsageConfig
from payments.errors import InsufficientFunds
from payments.notices import Notice
from payments.stores import Store
from payments.usage import credits as rules
from payments.usage import texts as usage_notices
from payments.usage.credit_store import Bought, BuyStatus, ExpiredGrant
from payments.usage.credits import AutoBuy, BuyRefused, Grant
from payments.usage.rules import (
    SLOT_HOURS,
    WARN_AT,
    Decision,
    ResourceMonth,
    Standing,
    Step,
    UsageEvent,
    counted_month,
    decide,
    month_lines,
    slot_of,
    step_of,
    told_at,
)
from payments.usage.store import AccountUsage, Counted, PlanRef, ToCount


@dataclass
class Meter:
    """What every step needs: the store, the usage policy, who acts (for the ledger)."""

    store: Store
    policy: UsageConfig
    actor: str = "gateway"
    # Plan versions never change once written: their allowances are cached.
    _allowances: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)

    async def allowances(self, ref: PlanRef) -> dict[str, int]:
        if ref.kind == "trial" or ref.plan in ("", TRIAL_PLAN):
            return dict(self.policy.trial_allowances)
        cached = self._allowances.get((ref.plan, ref.version))
        if cached is None:
            plan = await self.store.plans.version(ref.plan, ref.version)
            if plan is None:
                return {}
            cached = self._allowances[(ref.plan, ref.version)] = dict(plan.allowances)
        return cached


# --- authorize ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Whose credits an account draws on: its own, or (a leaf) its main's."""

    owner: str
    frozen: bool
    grants: tuple[Grant, ...]
    pending: dict[str, str]

    def pool(self, resource: str, now: datetime) -> int:
        return 0 if self.frozen else rules.pool(self.grants, self.pending, resource, now)


async def _source(meter: Meter, account: AccountUsage, ref: PlanRef) -> Source:
    if ref.main:
        found = await meter.store.usage.credits_of(ref.main)
        return Source(ref.main, found.frozen, found.grants, dict(found.pending))
    return Source(account.jid, False, account.grants, dict(account.pending))


async def standing(meter: Meter, jid: str, resource: str, now: datetime) -> Standing:
    found = await meter.store.usage.authorizing(jid, month_of(now), resource)
    account, ref, credits = found.account, found.ref, found.credits
    if not account.exists or account.closed or account.frozen:
        return Standing(account.exists, account.closed, account.frozen)
    allowance = (await meter.allowances(ref)).get(resource, 0)
    source = Source(ref.main or jid, credits.frozen, credits.grants, dict(credits.pending))
    used = int(account.counters.get(f"used:{resource}", 0))
    return Standing(True, allowance=allowance, used=used, pool=source.pool(resource, now))


async def authorize(meter: Meter, jid: str, resource: str, now: datetime) -> Decision:
    """May ``jid`` use ``resource`` now? One round trip (a leaf: two), the plan cached."""
    return decide(await standing(meter, jid, resource, now))


# --- usage in -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ingested:
    statuses: tuple[str, ...]  # per event, in the batch's order: counted / duplicate / unknown
    touched: tuple[str, ...] = ()  # the accounts written (and the mains drawn on)

    def count(self, status: str) -> int:
        return self.statuses.count(status)


COUNTED, DUPLICATE, UNKNOWN = "counted", "duplicate", "unknown_account"
OUT_OF_WINDOW = "out_of_window"  # older than [usage] late_days or from the future: never counted


async def ingest(meter: Meter, events: Sequence[UsageEvent], now: datetime) -> Ingested:
    """Count a validated batch, once per event id; returns once every count is written.

    The accounts of a batch are read together, counted together, and what
    follows a count (the leaves' draws on their mains, the credits of the
    accounts near their allowance) is done together too: pipelines of
    single-account reads and single-account scripts, a handful of round trips
    per batch whatever its size (and one per notice, when a threshold is crossed).
    """
    store, this_month = meter.store, month_of(now)
    months = [counted_month(event.at, now, meter.policy.late_days) for event in events]
    by_jid: dict[str, list[int]] = {}
    for index, (event, month) in enumerate(zip(events, months, strict=True)):
        if month is not None:
            by_jid.setdefault(event.jid, []).append(index)
    # Not a user: nothing to count, no retry either.
    found = [
        pair for pair in await store.usage.accounts(list(by_jid), this_month) if pair[0].exists
    ]
    accounts, refs = [a for a, _ in found], [r for _, r in found]
    work = []
    for account, ref in zip(accounts, refs, strict=True):
        pairs = [(months[i] or this_month, events[i]) for i in by_jid[account.jid]]
        allowances = await meter.allowances(ref)
        work.append(ToCount(account.jid, pairs, allowances, meter.policy.resources, ref.main))
    counted = await store.usage.count(
        work, this_month=this_month, now=now, late_days=meter.policy.late_days
    )
    statuses = {i: UNKNOWN if m else OUT_OF_WINDOW for i, m in enumerate(months)}
    for account, done in zip(accounts, counted, strict=True):
        for index, (fresh, _) in zip(by_jid[account.jid], done.events, strict=True):
            statuses[index] = COUNTED if fresh else DUPLICATE
    # A leaf's draws go on to its main; a replay also completes a draw a crash cut in half.
    leaves = [a.jid for a, done in zip(accounts, counted, strict=True) if _draws(a, done)]
    if leaves:
        transfers = await store.usage.transfers_of(leaves)
        drawn = dict(zip(leaves, transfers, strict=True))
        await store.usage.apply_transfers_of(drawn, now, meter.policy.late_days)
    await _tell_thresholds(meter, list(zip(accounts, refs, work, counted, strict=True)), now)
    touched = dict.fromkeys(j for item in work for j in (item.jid, item.main) if j)
    return Ingested(tuple(statuses[i] for i in range(len(events))), tuple(touched))


def _draws(account: AccountUsage, counted: Counted) -> bool:
    """A leaf that drew on its main in this batch, or may have in a batch cut by a crash."""
    replayed = not all(fresh for fresh, _ in counted.events)
    return account.kind == "leaf" and (replayed or any(beyond for _, beyond in counted.events))


Done = tuple[AccountUsage, PlanRef, ToCount, Counted]  # one account of a batch, counted


@dataclass(frozen=True, slots=True)
class _Near:
    """An account of the batch with a resource near or past its allowance."""

    account: AccountUsage
    ref: PlanRef
    item: ToCount
    counted: Counted
    added: Counter[str]  # counted this month by this batch, per resource
    drawn: Counter[str]  # of which beyond the allowance
    resources: list[str]  # the resources near


def _near(done: Done, this_month: str) -> _Near | None:
    account, ref, item, counted = done
    added, drawn = Counter[str](), Counter[str]()
    for (month, event), (fresh, beyond) in zip(item.events, counted.events, strict=True):
        if fresh and month == this_month:
            added[event.resource] += event.quantity
            drawn[event.resource] += beyond
    allowed = item.allowances
    near = [r for r in added if counted.totals[r][0] * 100 >= min(WARN_AT) * allowed.get(r, 0)]
    return _Near(account, ref, item, counted, added, drawn, near) if near else None


async def _tell_thresholds(meter: Meter, batch: Sequence[Done], now: datetime) -> None:
    """75% and 90% of what each user has this month, each told once; and blocked. The
    credits of the accounts near (their own, or their main's) are read in one round trip,
    after this batch drew on them; accounts well within their allowance need none."""
    month = month_of(now)
    near = [n for n in (_near(done, month) for done in batch) if n is not None]
    asked = [(n, n.ref.main or n.account.jid, r) for n in near for r in n.resources]
    credits = await meter.store.usage.credits_for([(o, r) for _, o, r in asked], month)
    for (n, owner, resource), found in zip(asked, credits, strict=True):
        source = Source(owner, found.frozen, found.grants, dict(found.pending))
        await _tell_step(meter, n, resource, source.pool(resource, now), month)


async def _tell_step(meter: Meter, near: _Near, resource: str, pool: int, month: str) -> None:
    used = near.counted.totals[resource][0]
    allowance = near.item.allowances.get(resource, 0)
    step = step_of(allowance, used - near.added[resource], used, pool, near.drawn[resource])
    percent = told_at(step)
    if percent is None:
        return
    jid = near.account.jid
    if percent == 100:  # kept beside the month's counters: `usage YYYY-MM` says it
        await meter.store.usage.mark_blocked(jid, month, resource, step.used_after)
    for notice in _threshold_notices(jid, near.ref, month, resource, percent, step):
        await meter.store.outbox.notify(notice)


def _threshold_notices(
    jid: str, ref: PlanRef, month: str, resource: str, percent: int, step: Step
) -> list[Notice]:
    used, total = step.used_after, step.used_after + step.left_after
    if percent < 100:
        return [usage_notices.threshold(jid, month, resource, percent, used, total)]
    told = [usage_notices.blocked(jid, month, resource, used, leaf=bool(ref.main))]
    if ref.main:
        told.append(usage_notices.leaf_blocked(ref.main, jid, month, resource, used))
    return told


# --- this month, for people ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthView:
    month: str
    lines: tuple[ResourceMonth, ...]
    paid_by: str = ""  # a leaf's main, whose credits it uses


async def month_usage(meter: Meter, jid: str, now: datetime) -> MonthView:
    """This month per resource: allowance used, credits used, what is left."""
    month = month_of(now)
    account = await meter.store.usage.standing(jid, month)
    if not account.exists:
        return MonthView(month, ())
    ref = await meter.store.usage.plan_ref(account)
    source = await _source(meter, account, ref)
    blocked = account.frozen or account.closed
    pools = {r: 0 if blocked else source.pool(r, now) for r in meter.policy.resources}
    allowances = await meter.allowances(ref)
    if blocked:
        allowances = {}
    lines = month_lines(meter.policy.resources, allowances, account.counters, pools)
    return MonthView(month, tuple(lines), ref.main)


# --- packs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Purchase:
    grant: Grant
    bought: Bought


REFUSALS: Final = {
    BuyStatus.NO_ACCOUNT: "You have no active account: send 'register' to start a trial.",
    BuyStatus.FROZEN: "Your account is frozen: send 'pay' (or 'topup') first.",
    BuyStatus.LEAF: "Your credits are bought by the account that pays for you.",
    BuyStatus.CURRENCY: "Your account changed its currency meanwhile: send 'credits' again.",
}


async def buy_pack(meter: Meter, jid: str, pack_id: str, now: datetime, *, actor: str) -> Purchase:
    """Buy one pack from the balances (voucher first, then prepaid), valid ``credit_days``.

    Raises UnknownPack, InsufficientFunds (nothing taken) or BuyRefused.
    """
    pack = await meter.store.packs.get_in(pack_id, await meter.store.currencies.of(jid))
    if pack is None:  # not in the catalog, or not sold in the account's currency
        raise UnknownPack(pack_id)
    grant_id = f"g{secrets.token_hex(6)}"
    grant = rules.new_grant(grant_id, pack, pack.price, now, meter.policy.credit_days)
    reason = f"pack {pack.id}: {pack.name}, valid until {grant.expires_at:%Y-%m-%d}"
    bought = await meter.store.credits.buy(
        jid, grant, ref=f"pack:{grant_id}", at=now, actor=actor, reason=reason
    )
    if bought.status == BuyStatus.NOT_ENOUGH:
        raise InsufficientFunds(missing=bought.balance)
    if bought.status in REFUSALS:
        raise BuyRefused(REFUSALS[bought.status])
    await meter.store.cards.watch_spending([jid], now)  # below an automatic top-up's threshold?
    return Purchase(grant, bought)


async def set_autobuy(
    meter: Meter, jid: str, pack_id: str, on: bool, now: datetime
) -> tuple[AutoBuy | None, bool]:
    """(the autobuy in force, whether this call changed anything)."""
    store = meter.store
    if not on:
        current = {a.pack: a for a in await store.credits.autobuys(jid)}.get(pack_id)
        return current, await store.credits.clear_autobuy(jid, pack_id)
    pack = await store.packs.get_in(pack_id, await store.currencies.of(jid))
    if pack is None:
        raise UnknownPack(pack_id)
    wanted = AutoBuy.of(pack, now, meter.policy.credit_days)
    changed = await store.credits.set_autobuy(jid, wanted)
    current = {a.pack: a for a in await store.credits.autobuys(jid)}.get(pack_id, wanted)
    return current, changed


# --- the renewal's hooks (payments/cycle.py) -------------------------------------------------


async def recurring_pack_lines(store: Store, jid: str) -> list[ChargeLine]:
    """A renewal line per recurring pack, at the price snapshotted when autobuy was turned on."""
    return [rules.autobuy_line(auto) for auto in await store.credits.autobuys(jid)]


# --- settlement and expiry (the chores) -----------------------------------------------------


def cutoff_of(now: datetime) -> datetime:
    """Grants valid after this instant may pay for credits drawn and not yet settled."""
    return slot_of(now) - timedelta(hours=SLOT_HOURS)


@dataclass(frozen=True, slots=True)
class SettleOutcome:
    applied: bool  # False: this slot was settled before
    entries: int
    done: bool  # nothing is left to settle: the account left the schedule


async def settle_account(
    meter: Meter, jid: str, now: datetime, *, seen: int | None = None
) -> SettleOutcome:
    """Settle ``jid``'s usage for the slot of ``now``: ledger entries, credits used."""
    store = meter.store
    transfers = await store.usage.transfers(jid)
    if transfers:  # a crash cut a leaf's draw in two: complete it
        await store.usage.mark_unsettled(*{t.main for t in transfers})
        await store.usage.apply_transfers(jid, transfers, now, meter.policy.late_days)
    result = await store.usage.settle(
        jid,
        slot=slot_of(now),
        cutoff=cutoff_of(now),
        at=now,
        actor=meter.actor,
        resources=meter.policy.resources,
        months=await store.usage.open_months(jid),
    )
    done = False
    if seen is not None and await store.usage.nothing_to_settle(jid):
        done = await store.usage.settled(jid, seen)
    return SettleOutcome(result.applied, result.entries, done)


async def preview_settlement(meter: Meter, jid: str, now: datetime) -> list[str]:
    """What ``settle_account`` would write (``--dry-run``)."""
    store, lines = meter.store, []
    if await store.usage.last_slot(jid) == epoch(slot_of(now)):
        return []
    for month in await store.usage.open_months(jid):
        counters = await store.usage.month(jid, month)
        for resource in meter.policy.resources:
            new = int(counters.get(f"used:{resource}", 0)) - int(
                counters.get(f"settled:{resource}", 0)
            )
            if new > 0:
                lines.append(f"{resource} {month[:4]}-{month[4:]}: {new} used")
    pending = (await store.usage.credits_of(jid)).pending
    lines += [f"{name}: {quantity} credits drawn" for name, quantity in sorted(pending.items())]
    return lines


@dataclass(frozen=True, slots=True)
class ExpireOutcome:
    expired: tuple[ExpiredGrant, ...]
    warned: tuple[Grant, ...]


async def expire_account(meter: Meter, jid: str, now: datetime, *, send: bool) -> ExpireOutcome:
    """Expire grants past their date (written to the ledger) and warn of those expiring soon."""
    store = meter.store
    grants = await store.credits.grants(jid)
    if not send:
        gone = [ExpiredGrant(g.id, g.resource, g.left) for g in grants if g.expires_at <= now]
        soon = rules.expiring(grants, now, meter.policy.expiry_notice_days)
        return ExpireOutcome(tuple(gone), tuple(soon))
    # Credits drawn before a grant expired are settled from it first.
    await settle_account(meter, jid, now)
    expired = await store.credits.expire(jid, now=now, cutoff=cutoff_of(now), actor=meter.actor)
    warned = []
    for grant in rules.expiring(
        await store.credits.grants(jid), now, meter.policy.expiry_notice_days
    ):
        if await meter.store.outbox.notify(usage_notices.credits_expiring(jid, grant)):
            warned.append(grant)
    return ExpireOutcome(tuple(expired), tuple(warned))

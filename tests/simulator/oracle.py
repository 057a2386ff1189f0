"""The invariants a history must keep, read from Redis and from what the world knows.

``check`` runs after every step; ``check_deadlines`` after a ``chore all``
that ran to its end (what was due is done); ``check_settled`` at the end of
a history, once providers delivered everything and the chores ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payments import keys
from payments.clock import parse_instant
from tests.simulator.card_oracle import check_cards, negative_only_by_disputes
from tests.simulator.violation import Violation as Violation
from tests.simulator.world import World


@dataclass
class Snapshot:
    """One account's keys, read raw."""

    jid: str
    account: dict[str, str]
    freezes: dict[str, str]
    prepaid: int
    voucher: int
    open_invoices: dict[str, float]
    invoices: dict[str, dict[str, str]]
    grants: dict[str, str]
    group: str

    @property
    def exists(self) -> bool:
        return bool(self.account)

    @property
    def active(self) -> bool:
        return self.account.get("status") == "active"

    @property
    def kind(self) -> str:
        return self.account.get("kind", "")

    def when(self, name: str) -> datetime | None:
        return parse_instant(self.account.get(name))


async def snapshot(w: World, jid: str) -> Snapshot:
    redis: Any = w.store.redis
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.account(jid))
        pipe.hgetall(keys.freezes(jid))
        pipe.get(keys.balance_prepaid(jid))
        pipe.get(keys.balance_voucher(jid))
        pipe.zrange(keys.invoices_open(jid), 0, -1, withscores=True)
        pipe.zrange(keys.invoices(jid), 0, -1)
        pipe.hgetall(keys.credit_grants(jid))
        pipe.get(keys.leaf_jids_index(jid))
        account, freezes, prepaid, voucher, open_, periods, grants, group = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for period in periods:
            pipe.hgetall(keys.invoice(jid, period))
        invoices = dict(zip(periods, await pipe.execute(), strict=True))
    return Snapshot(
        jid, account, freezes, int(prepaid or 0), int(voucher or 0), dict(open_), invoices,
        grants, group or "",
    )  # fmt: skip


async def snapshots(w: World) -> dict[str, Snapshot]:
    return {jid: await snapshot(w, jid) for jid in w.jids}


def fail(w: World, what: str) -> None:
    raise Violation(what)


async def check(w: World) -> dict[str, Snapshot]:
    """What must hold after every step, whatever ran and whatever crashed."""
    accounts = await snapshots(w)
    for snap in accounts.values():
        await _books(w, snap)
        _renewed_periods_billed(w, snap)
        _recurring_credits_paid(w, snap)
        _closed_only_when_owing(w, snap)
        _leaves_billed_while_open(w, snap, accounts)
    await _payments_credited_once(w)
    await _events_counted_once(w)
    await check_cards(w, accounts)
    return accounts


async def _books(w: World, snap: Snapshot) -> None:
    if snap.voucher < 0:
        fail(w, f"{snap.jid}: negative voucher balance {snap.voucher}")
    if snap.prepaid < 0:  # only a dispute may take prepaid below zero (docs/billing.md)
        await negative_only_by_disputes(w, snap.jid)
    if (snap.prepaid or snap.voucher) and not snap.exists:
        fail(w, f"{snap.jid}: money on a JID that has no account")
    mismatches = await w.store.ledger.check(snap.jid)
    if mismatches:
        fail(w, f"{snap.jid}: the ledger does not sum to the balances: {mismatches}")


def _renewed_periods_billed(w: World, snap: Snapshot) -> None:
    """A period marked renewed was charged: its invoice bills the account itself."""
    period = snap.account.get("last_period", "")
    if period and f"line:{snap.jid}" not in snap.invoices.get(period, {}):
        fail(w, f"{snap.jid}: period {period} marked renewed, but nothing was billed for it")


def _recurring_credits_paid(w: World, snap: Snapshot) -> None:
    """Credits of a recurring pack are granted once the renewal line that buys them is paid."""
    for grant in snap.grants:
        if not grant.startswith("auto-"):
            continue
        period = grant.split("-")[1]
        if snap.invoices.get(period, {}).get("status") != "paid":
            fail(w, f"{snap.jid}: credits {grant} granted while invoice {period} is unpaid")


def _closed_only_when_owing(w: World, snap: Snapshot) -> None:
    """A closure is for a debt (or an ended trial) that still held when it was written."""
    if snap.account.get("status") != "closed":
        return
    if "billing" not in snap.freezes:
        fail(w, f"{snap.jid}: closed although its billing freeze had been lifted (paid)")


def _leaves_billed_while_open(w: World, snap: Snapshot, accounts: dict[str, Snapshot]) -> None:
    """A main is billed for a leaf only while that leaf is an open account."""
    for period, invoice in snap.invoices.items():
        issued = parse_instant(invoice.get("issued_at"))
        for field in invoice:
            member = field[5:] if field.startswith("line:") else ""
            if not member or member == snap.jid or member.startswith("pack "):
                continue
            other = accounts.get(member)
            closed_at = other.when("closed_at") if other else None
            if closed_at is not None and issued is not None and closed_at < issued:
                fail(w, f"{snap.jid}: billed {period} for {member}, closed since {closed_at}")


async def _payments_credited_once(w: World) -> None:
    refs: dict[str, list[str]] = {}
    for jid in {p.jid for p in w.payments}:
        refs[jid] = [e.ref for e in await w.store.ledger.entries(jid)]
    for payment in w.payments:
        found = refs[payment.jid].count(payment.ref)
        if found > 1 or (payment.acknowledged and found != 1):
            fail(w, f"{payment.ref} to {payment.jid}: acknowledged, credited {found} times")


async def _events_counted_once(w: World) -> None:
    for sent in w.events:
        if sent.counted > 1:
            fail(w, f"usage event {sent.event_id} of {sent.jid} counted {sent.counted} times")


# --- after a `chore all` that ran to its end --------------------------------------------


def check_deadlines(w: World, accounts: dict[str, Snapshot]) -> None:
    """What was due is done: renewals billed, the unpaid frozen, the long frozen closed."""
    policy, now = w.policy, w.now
    for snap in accounts.values():
        if not snap.active:
            continue
        since = snap.when("unpaid_since")
        past_grace = since is not None and since + timedelta(days=policy.grace_days) < now
        if snap.open_invoices and past_grace and "billing" not in snap.freezes:
            fail(w, f"{snap.jid}: owes since {since:%Y-%m-%d}, past grace, not frozen")
        renewal = snap.when("next_renewal_at")
        if snap.kind == "paid" and not snap.freezes and renewal and renewal <= now:
            fail(w, f"{snap.jid}: renewal of {renewal:%Y-%m-%d} due and not done")
        ends = snap.when("trial_ends_at")
        if snap.kind == "trial" and ends and ends < now:
            if snap.prepaid >= policy.activation_amount.units and not snap.open_invoices:
                fail(w, f"{snap.jid}: trial ended holding {snap.prepaid} units, not activated")
            if "billing" not in snap.freezes:
                fail(w, f"{snap.jid}: trial ended {ends:%Y-%m-%d}, still served")


# --- at the end of a history ---------------------------------------------------------------


async def check_settled(w: World, accounts: dict[str, Snapshot]) -> None:
    """Nothing half done: no move in flight, every schedule agrees with the accounts, and
    nothing is left in the schedules from before shards."""
    left = await w.store.schedules.unsharded()
    if left:
        fail(w, f"entries left outside the shards after the chores: {left}")
    redis: Any = w.store.redis
    for snap in accounts.values():
        if await redis.exists(keys.group_move(snap.jid)):
            fail(w, f"{snap.jid}: a join or leave is still half done after the chores")
        if await redis.scard(keys.group_joins(snap.jid)):
            fail(w, f"{snap.jid}: a join it paid for is still unfinished after the chores")
        await _scheduled(w, snap)
        await _autotopup_listed(w, snap.jid)


async def _autotopup_listed(w: World, jid: str) -> None:
    """Automatic top-up on: the account is in its shard of ``payment-autotopups`` (the
    ``cards`` chore's backstop reads only the shards)."""
    redis: Any = w.store.redis
    on = await redis.hexists(keys.card_profile(jid), "autotopup_amount")
    if on and not await redis.sismember(w.store.shards.key(keys.AUTOTOPUPS, jid), jid):
        fail(w, f"{jid}: automatic top-up on, but missing from its shard of autotopups")


async def _scheduled(w: World, snap: Snapshot) -> None:
    if not snap.active:
        return
    renewal = snap.when("next_renewal_at")
    if snap.kind == "paid" and renewal is not None and not snap.account.get("renewal_held"):
        at = await w.store.schedules.at(keys.RENEWALS, snap.jid)
        if at is None or at > renewal:
            fail(w, f"{snap.jid}: renews {renewal}, scheduled at {at}")
    if snap.open_invoices and await w.store.schedules.at(keys.UNPAID, snap.jid) is None:
        fail(w, f"{snap.jid}: owes, but is missing from the unpaid schedule")
    frozen = snap.freezes.get("billing", "")
    if snap.kind == "leaf" and "frozen with" in frozen:
        main = await w.store.groups.main_of(snap.jid)
        if not main or "billing" not in (await snapshot(w, main)).freezes:
            fail(w, f"{snap.jid}: frozen with its main {main or '(none)'}, which is not frozen")
    elif frozen and await w.store.schedules.at(keys.BILLING_FROZEN, snap.jid) is None:
        fail(w, f"{snap.jid}: billing-frozen, but missing from the closure schedule")


async def describe(w: World, message: str) -> list[str]:
    """The state of the accounts a violation names, for the report."""
    lines = []
    for jid in [j for j in w.jids if j in message]:
        snap = await snapshot(w, jid)
        lines.append(f"state of {jid}: {snap.account}")
        lines.append(f"  freezes {snap.freezes}, prepaid {snap.prepaid}, voucher {snap.voucher}")
        lines.append(f"  open invoices {snap.open_invoices}, group {snap.group!r}")
        for schedule in (keys.RENEWALS, keys.UNPAID, keys.TRIAL_ENDS, keys.BILLING_FROZEN):
            at = await w.store.schedules.at(schedule, jid)
            lines.append(f"  {schedule}: {at}")
    return lines

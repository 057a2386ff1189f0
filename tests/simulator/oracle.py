"""The invariants a history must keep, read from Redis and from what the world knows.

``check`` runs after every step; ``check_deadlines`` after a ``chore all``
that ran to its end (what was due is done); ``check_settled`` at the end of
a history, once providers delivered everything and the chores ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payments import keys
from payments.clock import parse_instant
from payments.ledger.records import Balance, EntryKind, LedgerEntry, sum_by_balance
from payments.referrals.flow import holder_of, newcomer_entries
from payments.referrals.rules import NewcomerState, Verdict, decide
from payments.store.currencies import FIELD
from tests.simulator.card_oracle import check_cards, negative_only_by_disputes
from tests.simulator.ledgers import Ledgers
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
    return (await read_snapshots(w, [jid]))[jid]


async def snapshots(w: World) -> dict[str, Snapshot]:
    return await read_snapshots(w, w.jids)


async def read_snapshots(w: World, jids: list[str]) -> dict[str, Snapshot]:
    """The accounts' keys in two round trips (their invoices' periods, then the invoices)."""
    redis: Any = w.store.redis
    async with redis.pipeline(transaction=False) as pipe:
        for jid in jids:
            pipe.hgetall(keys.account(jid))
            pipe.hgetall(keys.freezes(jid))
            pipe.get(keys.balance_prepaid(jid))
            pipe.get(keys.balance_voucher(jid))
            pipe.zrange(keys.invoices_open(jid), 0, -1, withscores=True)
            pipe.zrange(keys.invoices(jid), 0, -1)
            pipe.hgetall(keys.credit_grants(jid))
            pipe.get(keys.leaf_jids_index(jid))
        replies = await pipe.execute()
    read = {jid: replies[i * 8 : i * 8 + 8] for i, jid in enumerate(jids)}
    async with redis.pipeline(transaction=False) as pipe:
        for jid in jids:
            for period in read[jid][5]:
                pipe.hgetall(keys.invoice(jid, period))
        invoices = iter(await pipe.execute())
    return {jid: _snapshot(w, jid, read[jid], invoices) for jid in jids}


def _snapshot(w: World, jid: str, read: list[Any], invoices: Iterator[Any]) -> Snapshot:
    account, freezes, prepaid, voucher, open_, periods, grants, group = read
    found = {period: next(invoices) for period in periods}
    archived = {p: dict(r.fields) for p, r in w.archive.invoices(jid).items()}
    return Snapshot(
        jid, account, freezes, int(prepaid or 0), int(voucher or 0), dict(open_),
        {**archived, **found}, grants, group or "",
    )  # fmt: skip


def fail(w: World, what: str) -> None:
    raise Violation(what)


async def check(w: World) -> dict[str, Snapshot]:
    """What must hold after every step, whatever ran and whatever crashed."""
    accounts, ledgers = await snapshots(w), Ledgers(w)
    for snap in accounts.values():
        await _books(w, snap, ledgers)
        _renewed_periods_billed(w, snap)
        _recurring_credits_paid(w, snap)
        _closed_only_when_owing(w, snap)
        _leaves_billed_while_open(w, snap, accounts)
    await _payments_credited_once(w, ledgers)
    await _events_counted_once(w)
    await check_cards(w, accounts, ledgers)
    await _currencies_fixed(w, accounts)
    await _referrals_rewarded_once(w, accounts, ledgers)
    await _moves_carried_once(w, ledgers)
    return accounts


async def _books(w: World, snap: Snapshot, ledgers: Ledgers) -> None:
    if snap.voucher < 0:
        fail(w, f"{snap.jid}: negative voucher balance {snap.voucher}")
    if snap.prepaid < 0:  # only a dispute may take prepaid below zero (docs/billing.md)
        await negative_only_by_disputes(snap.jid, ledgers)
    if (snap.prepaid or snap.voucher) and not snap.exists:
        fail(w, f"{snap.jid}: money on a JID that has no account")
    mismatches = await w.store.ledger.check(snap.jid)
    if mismatches:
        fail(w, f"{snap.jid}: the ledger does not sum to the balances: {mismatches}")
    # Across archived months: every entry ever written (archive and stream, each once).
    currency = w.store.currencies.of_field(snap.account.get(FIELD))
    whole = sum_by_balance(await ledgers.of(snap.jid), currency)
    if (whole[Balance.PREPAID].units, whole[Balance.VOUCHER].units) != (snap.prepaid, snap.voucher):
        fail(w, f"{snap.jid}: archive and stream sum to {whole}, not to the balances")


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
    if snap.account.get("status") != "closed" or snap.account.get("moved_to"):
        return  # (closed by a move: the account is at its new JID)
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
            if other is not None and issued is not None and _was_closed(other, issued):
                since = other.when("closed_at")
                fail(w, f"{snap.jid}: billed {period} for {member}, closed since {since}")


def _was_closed(snap: Snapshot, instant: datetime) -> bool:
    """Whether the account was closed at ``instant``: closed before it, and not reopened
    between its closure and then (a reopened account keeps its ``closed_at``)."""
    closed, reopened = snap.when("closed_at"), snap.when("reopened_at")
    if closed is None or closed >= instant:
        return False
    return reopened is None or not closed <= reopened <= instant


async def _payments_credited_once(w: World, ledgers: Ledgers) -> None:
    refs: dict[str, list[str]] = {}
    for jid in {p.jid for p in w.payments}:
        refs[jid] = [e.ref for e in await ledgers.of(jid)]
    for payment in w.payments:
        found = refs[payment.jid].count(payment.ref)
        if found > 1 or (payment.acknowledged and found != 1):
            fail(w, f"{payment.ref} to {payment.jid}: acknowledged, credited {found} times")
        if payment.refused and found:
            fail(w, f"{payment.ref} to {payment.jid}: refused (currency), yet credited")


async def _currencies_fixed(w: World, accounts: dict[str, Snapshot]) -> None:
    """An account counts in one currency from its first money on; a leaf in its main's."""
    for snap in accounts.values():
        currency = w.store.currencies.of_field(snap.account.get(FIELD))
        if await w.store.ledger.money_arrived(snap.jid):
            seen = w.currencies.setdefault(snap.jid, currency)
            if seen != currency:
                fail(w, f"{snap.jid}: counted in {seen} since money arrived, now in {currency}")
        main = await w.store.groups.main_of(snap.jid) if snap.kind == "leaf" else ""
        if main and await w.store.currencies.of(main) != currency:
            fail(w, f"{snap.jid}: a leaf in {currency} of {main}, who counts in another currency")


async def _referrals_rewarded_once(
    w: World, accounts: dict[str, Snapshot], ledgers: Ledgers
) -> None:
    """A referrer is rewarded once per newcomer, only for a first payment that settled and
    that nothing took back before the reward; its counters say what its records say."""
    rewards: dict[str, list[LedgerEntry]] = {}
    for jid in accounts:
        for entry in await ledgers.of(jid):
            if entry.kind is EntryKind.REFERRAL:
                rewards.setdefault(entry.ref.removeprefix("referral:"), []).append(entry)
    for newcomer, found in rewards.items():
        if len(found) > 1:
            fail(w, f"{newcomer}: its referrer was rewarded {len(found)} times")
        # What the newcomer's ledger held when the reward was written (stream ids are the
        # server's clock in ms: a refund racing in the same ms is given the benefit of doubt).
        entries = await newcomer_entries(w.store, newcomer)
        if await _moved_and_reopened(w, newcomer):
            entries = sorted(entries + await _moved_away(w, accounts, newcomer), key=_at)
        before = [e for e in entries if _ms(e) < _ms(found[0])]
        decision = decide(before, found[0].at, w.referral.settle_days)
        if decision.verdict is not Verdict.REWARD:
            fail(w, f"{newcomer}: its referrer was rewarded ({decision.verdict.value})")
    for jid in accounts:
        raw: Any = await w.store.redis.hgetall(keys.referrals(jid))
        states = [v.split("|")[0] for k, v in raw.items() if k.startswith("new:")]
        if int(raw.get("rewards", 0)) != states.count("rewarded"):
            fail(w, f"{jid}: counts {raw.get('rewards', 0)} rewards, its records say otherwise")


async def _moves_carried_once(w: World, ledgers: Ledgers) -> None:
    """What a move carried in to a new JID was carried out of its old one: the same amount
    of each balance, once (no money made by a move, none counted twice)."""
    carried: dict[str, list[int]] = {}
    involved = set(w.moved)
    for old in w.moved:
        record = await w.store.moves.record(old)
        involved |= {record.new} if record is not None else set()
    for jid in involved:
        for entry in await ledgers.of(jid):
            if entry.kind is EntryKind.MOVED and entry.ref:
                carried.setdefault(entry.ref, []).append(entry.amount.units)
    for ref, amounts in carried.items():
        if len(amounts) > 1:
            fail(w, f"{ref}: carried {len(amounts)} times")
        move_id, way, balance = ref.removeprefix("move:").rsplit(":", 2)
        if way != "in" or not amounts[0]:
            continue
        out = carried.get(f"move:{move_id}:out:{balance}", [0])
        if out[0] != -amounts[0]:
            fail(w, f"{ref}: {amounts[0]} carried in, {-out[0]} carried out of the old JID")


async def _moved_and_reopened(w: World, newcomer: str) -> bool:
    """A newcomer whose JID moved, then came back (``register`` reopened it): where its
    account went is no longer named on it (``moved_to`` goes at a reopening, and a later
    closure says why it closed again)."""
    account: Any = await w.store.redis.hgetall(keys.account(newcomer))
    return bool(account.get("reopened_at")) and newcomer in w.moved


async def _moved_away(w: World, accounts: dict[str, Snapshot], newcomer: str) -> list[LedgerEntry]:
    """The ledgers of where a reopened newcomer's account went: the JIDs that arrived as it
    (``referred_as``), and where they moved on to."""
    found: list[LedgerEntry] = []
    for snap in accounts.values():
        if snap.account.get("referred_as") == newcomer:
            found += await newcomer_entries(w.store, snap.jid)
    return found


def _at(entry: LedgerEntry) -> datetime:
    return entry.at


async def _referral_decided(w: World, snap: Snapshot) -> None:
    """After the chores, a newcomer whose first payment settled has its reward decided."""
    referrer = await holder_of(w.store, snap.account.get("referred_by", ""))
    if not referrer:
        return
    state = await w.store.referrals.state(referrer, snap.jid)
    code = await w.store.referrals.code(snap.account.get("referral_code", ""))
    if state is None and code is not None and code.open:
        fail(w, f"{snap.jid}: referred by {referrer}, who never counted it")
    if state is None:
        return  # its referrer moved meanwhile, and came back (conservative: no reward)
    decision = decide(await newcomer_entries(w.store, snap.jid), w.now, w.referral.settle_days)
    due = decision.verdict in (Verdict.REWARD, Verdict.WITHHOLD)
    if due and state is NewcomerState.SIGNED_UP:
        fail(w, f"{snap.jid}: its first payment settled, its reward is not decided")


def _ms(entry: LedgerEntry) -> int:
    return int(entry.id.split("-")[0])


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
        await _referral_decided(w, snap)
        await _move_finished(w, snap)
        await _autotopup_listed(w, snap.jid)


async def _move_finished(w: World, snap: Snapshot) -> None:
    """No move half done after the chores: none claimed or sealed, no JID held for one."""
    state = await w.store.redis.hget(keys.move(snap.jid), "state")
    if state in ("claimed", "sealed"):
        fail(w, f"{snap.jid}: its move is still {state} after the chores")
    if snap.account.get("status") == "moving":
        fail(w, f"{snap.jid}: still held for a move after the chores")


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

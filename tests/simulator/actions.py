"""What happens in the world, one action at a time: users, providers, the gateway,
operators, chores and the clock. Each action drives the product through its
domain functions; a refusal (PaymentsError) is a normal outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from payments.accounts.currency import choose_currency as pick_currency
from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.activation import activate_if_due
from payments.billing.freezes import operator_freeze, operator_unfreeze
from payments.billing.payment import credit_account, pay_invoices
from payments.billing.registration import register as register_account
from payments.chores.archive import Archiving, archive_account, cutoff
from payments.clock import epoch
from payments.codes import VOUCHER_CODES
from payments.groups import flow as groups
from payments.groups.rules import CodeUse
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.moves.flow import MoveFlow, ask_move, claim, operator_move
from payments.referrals.flow import my_code, register_referred
from payments.store.durability import Durability, DurabilityPolicy
from payments.store.schedules import SETS, TIMED
from payments.topup.flow import create_vouchers, receive_payment, redeem_voucher
from payments.topup.providers.base import PaymentEvent, WebhookRefused
from payments.topup.vouchers import VoucherBatch
from payments.usage import flow as metering
from payments.usage.rules import UsageEvent
from tests.simulator import card_actions as cards
from tests.simulator.faults import crash_point
from tests.simulator.oracle import Violation
from tests.simulator.world import CURRENCIES, DOMAIN, PACK, PLANS, Payment, UsageSent, World

Action = Callable[[World], Awaitable[None]]
CODE_ATTEMPTS: Final = 1_000  # the simulated users never hit the code rate limit


async def register(w: World, jid: str = "") -> None:
    jid = jid or w.pick()
    before = await w.store.accounts.get(jid)
    registered = await register_account(w.cycle(jid), jid, w.now)
    w.say(f"register {jid}: {registered.name.lower()}")
    money = (await w.store.ledger.balances(jid)).total
    if before is not None and before.closed and money and not registered:
        raise Violation(f"{jid}: closed holding {money}, and `register` cannot reopen it")


async def deliver(w: World, payment: Payment, durability: Durability | None = None) -> None:
    """The provider's webhook: acknowledged once the credit is written and on the replicas
    the deployment asks for (``durability``; this world's redis-server has none and asks
    for none); a payment in another currency than its account's is refused (4xx), and the
    provider stops."""
    payment.deliveries += 1
    event = PaymentEvent(payment.ref, payment.ref, payment.jid, payment.amount)
    try:
        await receive_payment(w.store, event, "sim", w.policy, now=w.now)
    except WebhookRefused:
        payment.refused = True
        w.say(f"refused: {payment.ref} in {payment.amount.currency}")
        return
    await (durability or w.store.durability).confirm([payment.jid])
    payment.acknowledged = True


async def currency_of(w: World, jid: str) -> str:
    """What the user's top-up page charges in; now and then an old link in the other one."""
    currency = await w.store.currencies.of(jid)
    if w.rng.random() < 0.08:
        return next(c for c in CURRENCIES if c != currency)
    return currency


async def top_up(w: World) -> None:
    """A user pays on the top-up page (only account holders get a link)."""
    jid = w.pick()
    if await w.store.accounts.get(jid) is None:
        return
    if await w.store.cards.cards(jid) and w.rng.random() < 0.5:
        return  # who saved a card mostly lets it pay
    amount = Money.whole(w.rng.choice((5, 10, 20, 25, 40)), await currency_of(w, jid))
    payment = Payment(w.next_id("sim:pay"), jid, amount)
    w.payments.append(payment)
    w.say(f"top up {jid} {amount} ({payment.ref})")
    await deliver(w, payment)


async def top_up_not_yet_safe(w: World) -> None:
    """A payment whose credit is written but not on its replica when the wait ends (a
    deployment asking for one replica, none in sync): the webhook answers 503, the
    provider retries later, and the ref makes the retry credit nothing."""
    jid = w.pick()
    if await w.store.accounts.get(jid) is None:
        return
    amount = Money.whole(w.rng.choice((10, 20)), await w.store.currencies.of(jid))
    payment = Payment(w.next_id("sim:pay"), jid, amount)
    w.payments.append(payment)
    w.say(f"top up {jid} {payment.amount} ({payment.ref}), its replica behind")
    strict = Durability(w.store.redis, DurabilityPolicy(replicas=1, timeout_ms=1))
    await deliver(w, payment, strict)


async def provider_retry(w: World) -> None:
    """A webhook again: a retry of an unacknowledged one, or a replay of any."""
    if not w.payments:
        return
    pending = [p for p in w.payments if not p.acknowledged and not p.refused]
    payment = w.rng.choice(pending or w.payments)
    w.say(f"webhook again {payment.ref} ({'retry' if pending else 'replay'})")
    await deliver(w, payment)


async def voucher(w: World) -> None:
    if not w.vouchers or w.rng.random() < 0.3:
        value = Money.whole(w.rng.choice((5, 10)), w.rng.choice(CURRENCIES))
        batch = VoucherBatch(w.next_id("b"), value, 3, w.now, "sim")
        w.vouchers += await create_vouchers(w.store, batch)
    jid, code = w.pick(), w.rng.choice(w.vouchers)
    if await w.store.accounts.get(jid) is None:  # the bot serves `redeem` to users only
        return
    w.say(f"redeem {jid} {code}")
    await redeem_voucher(
        w.store, jid, VOUCHER_CODES.display(code), now=w.now,
        attempts_per_hour=CODE_ATTEMPTS, policy=w.policy,
    )  # fmt: skip


async def choose_currency(w: World) -> None:
    """``currency CODE``: refused once money arrived, or for a leaf."""
    jid, code = w.pick(), w.rng.choice(CURRENCIES)
    if await w.store.accounts.get(jid) is None:
        return
    w.say(f"currency {jid} {code}")
    await pick_currency(w.store, jid, code)


async def choose_plan(w: World) -> None:
    """``plan ID``: the choice applies at the next renewal (a trial: at its activation)."""
    jid, plan = w.pick(), w.rng.choice(sorted(PLANS))
    account = await w.store.accounts.get(jid)
    if account is None or account.closed or account.kind is AccountKind.LEAF:
        return
    w.say(f"plan {jid} {plan}")
    await w.store.billing.set_next_plan(jid, plan)
    sub = await w.store.billing.subscriber(jid)
    if sub is not None and sub.account.kind is AccountKind.TRIAL:
        await activate_if_due(w.cycle(jid), sub, w.now)


async def pay(w: World) -> None:
    jid = w.pick()
    w.say(f"pay {jid}")
    await pay_invoices(w.cycle(jid), jid, w.now)


async def join(w: World) -> None:
    main, leaf = w.pick(), w.pick()
    if main == leaf:
        return
    w.say(f"join {leaf} to {main}")
    await groups.join(w.groups(main), main, leaf, w.now)


async def refer(w: World) -> None:
    """A main hands out a referral code; a newcomer signs up with it."""
    main = w.pick()
    code = await groups.create_referral(w.groups(main), main, w.now)
    newcomer = f"n{w.next_id('')}@{DOMAIN}"
    w.jids.append(newcomer)
    w.say(f"register {newcomer} with a code of {main}")
    await groups.use_code(
        w.groups(newcomer), newcomer, code.code, CodeUse.REGISTER, w.now,
        attempts_per_hour=CODE_ATTEMPTS,
    )  # fmt: skip


async def referral(w: World) -> None:
    """``refer``: a paid account's code; a newcomer registers with it (a trial of its own)."""
    paid = [j for j in w.jids if (a := await w.store.accounts.get(j)) and a.kind == "paid"]
    referrer = w.rng.choice(paid) if paid and w.rng.random() < 0.9 else w.pick()
    mine = await my_code(w.store, w.policy, referrer, w.now)
    newcomer = f"r{w.next_id('')}@{DOMAIN}"
    w.jids.append(newcomer)
    w.say(f"register {newcomer} with the referral code of {referrer}")
    await register_referred(
        w.cycle(newcomer), newcomer, mine.code, w.now, attempts=CODE_ATTEMPTS,
        referral=w.referral,
    )  # fmt: skip


async def move(w: World) -> None:
    """An account moves to a new JID: by its code (``move``, then ``claim``), or by an
    operator; now and then to a JID in use (refused) or with a code from another move."""
    held = [j for j in w.jids if (a := await w.store.accounts.get(j)) and a.open]
    old = w.rng.choice(held) if held and w.rng.random() < 0.9 else w.pick()
    new = w.pick() if w.rng.random() < 0.2 else f"m{w.next_id('')}@{DOMAIN}"
    if new not in w.jids:
        w.jids.append(new)
    w.moved.add(old)
    flow = MoveFlow(w.store, w.policy, "sim")
    if w.rng.random() < 0.3:
        w.say(f"admin move {old} {new}")
        await operator_move(flow, old, new, w.now)
        return
    w.say(f"move {old} to {new}")
    await ask_move(flow, old, new, w.now)
    record = await w.store.moves.record(old)
    if record is None or w.rng.random() < 0.1:  # the new JID never claims it
        return
    w.say(f"claim by {new} of the move of {old}")
    await claim(flow, new, record.code, w.now, attempts=CODE_ATTEMPTS)


async def refund(w: World) -> None:
    """An operator gives back (part of) a payment: a ``refund`` entry naming it."""
    payments = [p for p in w.payments if p.acknowledged]
    if not payments:
        return
    payment = w.rng.choice(payments)
    amount = Money.whole(w.rng.choice((1, 5)), payment.amount.currency)
    w.say(f"refund {payment.jid} {amount} of {payment.ref}")
    await w.store.ledger.debit(
        payment.jid, amount, reason="sim refund", kind=EntryKind.REFUND,
        ref=f"refund:{payment.ref}:{w.next_id('')}", actor="operator", at=w.now,
    )  # fmt: skip


async def leave(w: World) -> None:
    """A leaf leaves, or its main removes it; it stays paid to the end of the month paid."""
    leaf = w.pick()
    if w.rng.random() < 0.5:
        w.say(f"leave {leaf}")
        await groups.leave(w.groups(leaf), leaf, w.now)
        return
    main = await w.store.groups.main_of(leaf)
    if main:
        w.say(f"remove {leaf} by {main}")
        await groups.remove(w.groups(main), main, leaf, w.now)


async def usage(w: World) -> None:
    """A gateway batch: new events, and now and then a replay of old ones."""
    batch: list[UsageSent] = []
    for _ in range(w.rng.randint(1, 4)):
        if w.events and w.rng.random() < 0.25:
            batch.append(w.rng.choice(w.events))
            continue
        sent = UsageSent(
            w.next_id("ev"), w.pick(), w.rng.choice(("sms", "voice_minutes")),
            w.rng.randint(1, 30), w.now - timedelta(minutes=w.rng.randint(0, 600)),
        )  # fmt: skip
        w.events.append(sent)
        batch.append(sent)
    events = [UsageEvent(s.event_id, s.jid, s.resource, s.quantity, s.at) for s in batch]
    w.say("usage " + ", ".join(f"{s.event_id}:{s.jid}:{s.quantity}" for s in batch))
    ingested = await metering.ingest(w.meter(), events, w.now)
    for sent, status in zip(batch, ingested.statuses, strict=True):
        sent.counted += status == metering.COUNTED


async def buy(w: World) -> None:
    jid = w.pick()
    if w.rng.random() < 0.5:
        w.say(f"buy {jid} {PACK}")
        await metering.buy_pack(w.meter(jid), jid, PACK, w.now, actor=jid)
        return
    on = w.rng.random() < 0.6
    w.say(f"autobuy {jid} {PACK} {'on' if on else 'off'}")
    await metering.set_autobuy(w.meter(jid), jid, PACK, on, w.now)


async def operator(w: World) -> None:
    jid, roll = w.pick(), w.rng.random()
    cycle = w.cycle("operator")
    kind = w.rng.choice((FreezeKind.VIOLATION, FreezeKind.BILLING))
    if roll < 0.3:
        w.say(f"operator freezes {jid} ({kind.value})")
        await operator_freeze(cycle, jid, kind, "sim", w.now)
    elif roll < 0.6:
        w.say(f"operator unfreezes {jid} ({kind.value})")
        await operator_unfreeze(cycle, jid, kind, w.now)
    elif await w.store.accounts.get(jid) is not None:
        ref = w.next_id("sim:credit")
        amount = Money.whole(5, await w.store.currencies.of(jid))
        w.say(f"operator credits {jid} {amount} ({ref})")
        await credit_account(
            w.store, jid, amount, reason="sim", kind=EntryKind.CREDIT, ref=ref,
            actor="operator", at=w.now, policy=w.policy,
        )  # fmt: skip


async def chores(w: World) -> None:
    w.say("chore all")
    w.chores_current = False
    reports = await w.chores()
    w.chores_current = not any(r.skipped_by or r.stopped or r.errors for r in reports)


async def chores_on_two_hosts(w: World) -> None:
    """Two hosts start ``chore all`` at once: each takes the shards the other does not hold.
    (What is due is not checked after: a shard's repair may land after another host
    renewed that shard.)"""
    w.say("chore all, on two hosts at once")
    w.chores_current = False
    await asyncio.gather(w.chores(), w.chores())


async def unsharded_entry(w: World) -> None:
    """An entry written by a version from before shards (a deployment upgraded while it
    ran): in the unsharded schedule or registry, not in its shard. The repair moves it."""
    jid = w.pick()
    schedule = w.rng.choice((*TIMED, *SETS))  # the card work's and automatic top-ups' too
    shard = w.store.shards.key(schedule, jid)
    if schedule in SETS:
        if await w.store.redis.srem(shard, jid):
            await w.store.redis.sadd(schedule, jid)
            w.say(f"{jid} left in the unsharded {schedule}")
        return
    at = await w.store.schedules.at(schedule, jid)
    if at is not None:
        await w.store.redis.zadd(schedule, {jid: epoch(at)})
        await w.store.schedules.remove(schedule, jid)
        w.say(f"{jid} left in the unsharded {schedule} at {at:%Y-%m-%d %H:%M}")


async def ask_balance(w: World) -> None:
    """A user asks the bot: its one-round-trip read (``lua/bot_request.lua``) must show
    what the stores show, read apart (not a racer: nothing changes between the reads)."""
    jid = w.pick()
    w.say(f"balance {jid}")
    seen = await w.store.requests.enter(
        "msg", jid, limit=10**9, window_seconds=60, now=w.now.timestamp()
    )
    if seen.account != await w.store.accounts.get(jid):
        raise Violation(f"the bot read another account for {jid}: {seen.account}")
    if seen.account is None:
        return
    if seen.balances != await w.store.ledger.balances(jid):
        raise Violation(f"the bot read other balances for {jid}: {seen.balances}")
    if seen.plan_snapshot != await w.store.accounts.plan_snapshot(jid):
        raise Violation(f"the bot read another plan for {jid}: {seen.plan_snapshot}")


async def archive(w: World) -> None:
    """The archive chore's step for one account: its months before this one leave Redis
    (a crash may also land between its file steps: written, renamed, read back)."""
    jid = w.pick()
    before = cutoff(w.now, w.ledger.keep_months)
    w.say(f"archive {jid} before {before}")
    archiving = Archiving(w.store, w.archive, before, w.now, "chore:archive", crash_point)
    done = await archive_account(archiving, jid)
    w.say(f"archived {done.entries} entries and {done.invoices} invoices of {jid}")


async def tick(w: World) -> None:
    """Time passes: mostly hours, sometimes days; the hourly chores usually run."""
    hours = w.rng.choice((1, 2, 6, 12, 24, 24, 72, 24 * 8))
    w.now += timedelta(hours=hours, minutes=w.rng.randint(0, 59))
    w.say(f"time passes: {hours} h")


# Weights: what a day of the product looks like, squeezed.
ACTIONS: Final[dict[Action, int]] = {
    register: 8,
    choose_currency: 3,
    top_up: 10,
    provider_retry: 5,
    top_up_not_yet_safe: 2,
    voucher: 3,
    choose_plan: 4,
    pay: 3,
    join: 5,
    refer: 2,
    referral: 3,
    refund: 1,
    move: 2,
    leave: 3,
    usage: 6,
    buy: 3,
    operator: 2,
    chores: 8,
    chores_on_two_hosts: 2,
    unsharded_entry: 2,
    ask_balance: 3,
    archive: 5,
    tick: 14,
    cards.add_card: 6,
    cards.forget_card: 1,
    cards.autotopup: 4,
    cards.card_work: 4,
    cards.card_event: 5,
    cards.provider_side: 3,
    cards.operator_cards: 3,
}
# What races well with what: the interleavings the product must survive.
RACERS: Final = (
    top_up, provider_retry, choose_currency, choose_plan, pay, join, leave, usage, operator, chores,
    archive, cards.add_card, cards.card_work, cards.card_event, cards.operator_cards, buy,
    top_up_not_yet_safe, chores_on_two_hosts, unsharded_entry, move,
)  # fmt: skip

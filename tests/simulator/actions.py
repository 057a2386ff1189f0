"""What happens in the world, one action at a time: users, providers, the gateway,
operators, chores and the clock. Each action drives the product through its
domain functions; a refusal (PaymentsError) is a normal outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.activation import activate_if_due
from payments.billing.freezes import operator_freeze, operator_unfreeze
from payments.billing.payment import credit_account, pay_invoices
from payments.billing.registration import register as register_account
from payments.codes import VOUCHER_CODES
from payments.groups import flow as groups
from payments.groups.rules import CodeUse
from payments.ledger.records import EntryKind
from payments.topup.flow import create_vouchers, receive_payment, redeem_voucher
from payments.topup.providers.base import PaymentEvent
from payments.topup.vouchers import VoucherBatch
from payments.usage import flow as metering
from payments.usage.rules import UsageEvent
from tests.simulator.oracle import Violation
from tests.simulator.world import DOMAIN, PACK, PLANS, Payment, UsageSent, World, usd

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


async def deliver(w: World, payment: Payment) -> None:
    """The provider's webhook: acknowledged once the call returns."""
    payment.deliveries += 1
    event = PaymentEvent(payment.ref, payment.ref, payment.jid, payment.amount)
    await receive_payment(w.store, event, "sim", w.policy, now=w.now)
    payment.acknowledged = True


async def top_up(w: World) -> None:
    """A user pays on the top-up page (only account holders get a link)."""
    jid = w.pick()
    if await w.store.accounts.get(jid) is None:
        return
    amount = usd(w.rng.choice((5, 10, 20, 25, 40)))
    payment = Payment(w.next_id("sim:pay"), jid, amount)
    w.payments.append(payment)
    w.say(f"top up {jid} {amount} ({payment.ref})")
    await deliver(w, payment)


async def provider_retry(w: World) -> None:
    """A webhook again: a retry of an unacknowledged one, or a replay of any."""
    if not w.payments:
        return
    pending = [p for p in w.payments if not p.acknowledged]
    payment = w.rng.choice(pending or w.payments)
    w.say(f"webhook again {payment.ref} ({'retry' if pending else 'replay'})")
    await deliver(w, payment)


async def voucher(w: World) -> None:
    if not w.vouchers or w.rng.random() < 0.3:
        batch = VoucherBatch(w.next_id("b"), usd(w.rng.choice((5, 10))), 3, w.now, "sim")
        w.vouchers += await create_vouchers(w.store, batch)
    jid, code = w.pick(), w.rng.choice(w.vouchers)
    if await w.store.accounts.get(jid) is None:  # the bot serves `redeem` to users only
        return
    w.say(f"redeem {jid} {code}")
    await redeem_voucher(
        w.store, jid, VOUCHER_CODES.display(code), now=w.now,
        attempts_per_hour=CODE_ATTEMPTS, policy=w.policy,
    )  # fmt: skip


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
        w.say(f"operator credits {jid} $5 ({ref})")
        await credit_account(
            w.store, jid, usd(5), reason="sim", kind=EntryKind.CREDIT, ref=ref,
            actor="operator", at=w.now, policy=w.policy,
        )  # fmt: skip


async def chores(w: World) -> None:
    w.say("chore all")
    w.chores_current = False
    reports = await w.chores()
    w.chores_current = not any(r.skipped_by or r.stopped or r.errors for r in reports)


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


async def tick(w: World) -> None:
    """Time passes: mostly hours, sometimes days; the hourly chores usually run."""
    hours = w.rng.choice((1, 2, 6, 12, 24, 24, 72, 24 * 8))
    w.now += timedelta(hours=hours, minutes=w.rng.randint(0, 59))
    w.say(f"time passes: {hours} h")


# Weights: what a day of the product looks like, squeezed.
ACTIONS: Final[dict[Action, int]] = {
    register: 8,
    top_up: 10,
    provider_retry: 5,
    voucher: 3,
    choose_plan: 4,
    pay: 3,
    join: 5,
    refer: 2,
    leave: 3,
    usage: 6,
    buy: 3,
    operator: 2,
    chores: 8,
    ask_balance: 3,
    tick: 14,
}
# What races well with what: the interleavings the product must survive.
RACERS: Final = (top_up, provider_retry, choose_plan, pay, join, leave, usage, operator, chores)

"""A year of one main account's life, made through the domain flows (the account page's
tests and its bench): activation, monthly renewals for itself and two leaves, usage
every month, a pack bought, autobuy, a voucher, top-ups, and the last renewal left
open on an invoice (the account is in its grace, not frozen).

Everything is dated in the twelve months before ``now`` (the wall clock, so that
the web service, which reads the wall clock, sees the same months).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payments.billing.cycle import Cycle
from payments.billing.payment import credit_account
from payments.billing.renewal import charge_lines, renew_account
from payments.billing.rules import total_of
from payments.clock import add_months, month_of, month_start, months_back
from payments.config import Config
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.stores import Store
from payments.usage.flow import Meter, buy_pack, ingest, set_autobuy, settle_account
from payments.usage.rules import UsageEvent

PLANS = {"basic": ("Basic", 100_000, {"sms": 100, "voice_minutes": 300, "mms": 20})}
PLANS["plus"] = ("Plus", 200_000, {"sms": 500, "voice_minutes": 1000, "mms": 100})
PACK = ("sms500", "sms", 500, 50_000)


@dataclass(frozen=True)
class History:
    main: str
    leaves: tuple[str, ...]
    start: datetime  # the activation
    months: tuple[str, ...]  # the twelve months shown, oldest first
    open_period: str  # the last renewal's, left open on its invoice


def usd(units: int, config: Config) -> Money:
    return Money(units, config.billing.currency)


async def catalog(store: Store, config: Config, at: datetime) -> None:
    for plan_id, (name, price, allowances) in PLANS.items():
        await store.plans.put(
            plan_id, at=at, price=usd(price, config), name=name, allowances=allowances
        )
    pack_id, resource, quantity, price = PACK
    await store.packs.put(
        pack_id, at=at, resource=resource, quantity=quantity, price=usd(price, config)
    )


async def pay_in(store: Store, config: Config, jid: str, units: int, at: datetime) -> None:
    await credit_account(
        store,
        jid,
        usd(units, config),
        reason="payment via test",
        kind=EntryKind.PAYMENT,
        ref=f"history:{jid}:{at.isoformat()}",
        actor="provider:test",
        at=at,
        policy=config.billing,
    )


def usage_of(
    jid: str, index: int, at: datetime, batch: int = 0, batches: int = 1
) -> list[UsageEvent]:
    """A month's usage in ``batches`` parts, different each month; the main goes beyond
    its SMS allowance now and then."""
    quantities = {
        "sms": 25 + (index * 37) % 130,
        "voice_minutes": 60 + (index * 53) % 280,
        "mms": (index * 7) % 25,
    }
    return [
        UsageEvent(f"h{index}-{batch}-{resource}", jid, resource, max(quantity // batches, 1), at)
        for resource, quantity in quantities.items()
        if quantity
    ]


async def year_of_history(
    store: Store, config: Config, main: str, now: datetime, *, leaves: int = 2, days: int = 1
) -> History:
    """``days``: days of each month with usage, each a batch settled on its own (the
    ledger gets a settlement's entries for each: 30 is an account used every day)."""
    months = months_back(now, 12)
    start = month_start(months[0]) + timedelta(days=2, hours=9)
    await catalog(store, config, start - timedelta(days=40))
    members = await _accounts(store, config, main, leaves, start)
    cycle = Cycle(store, config.billing, "chore:history")
    meter = Meter(store, config.usage, "chore:history")
    for index, month in enumerate(months):
        await _renew_in(store, config, cycle, main, month, now)
        for day in range(days):
            at = month_start(month) + timedelta(days=3 + day * 25 // days, hours=10)
            if at >= now - timedelta(minutes=5):
                break
            events = [
                e
                for n, member in enumerate(members)
                for e in usage_of(member, index + 5 * n, at, day, days)
            ]
            await ingest(meter, events, at)
            for member in members:
                await settle_account(meter, member, min(at + timedelta(hours=6), now))
        await _extras(store, config, main, index, month_start(month) + timedelta(days=12))
    [(open_period, _)] = await store.billing.open_invoices(main)
    return History(main, tuple(members[1:]), start, tuple(months), open_period)


async def _accounts(
    store: Store, config: Config, main: str, leaves: int, start: datetime
) -> list[str]:
    await store.accounts.register_trial(main, start - timedelta(days=6), config.billing.trial_days)
    await store.numbers.assign(main, "+15550100100")
    basic = await store.plans.get("basic")
    assert basic is not None
    index = await store.groups.create(main)
    names = [f"{main.split('@')[0]}-kid{n}@{main.split('@')[1]}" for n in range(leaves)]
    for n, leaf in enumerate(names):
        await store.accounts.register_trial(leaf, start - timedelta(days=6), 30)
        await store.groups.join(index, main, leaf, basic, at=start - timedelta(days=1))
        await store.numbers.assign(leaf, f"+1555010010{n + 1}")
    await pay_in(store, config, main, 400_000, start)  # activates: the first month is paid
    return [main, *names]


async def _renew_in(
    store: Store, config: Config, cycle: Cycle, main: str, month: str, now: datetime
) -> None:
    """The renewal of ``month``, if it is due: paid in full, except the last one."""
    sub = await store.billing.subscriber(main)
    due = sub.account.next_renewal_at if sub is not None else None
    if sub is None or due is None or due > now or month_of(due) != month:
        return
    if add_months(due, 1, due.day) <= now:  # not the last renewal: top up what it charges
        amount = total_of(await charge_lines(cycle, sub), config.billing.currency)
        balance = (await store.ledger.balances(main)).total
        if amount > balance:
            await pay_in(store, config, main, (amount - balance).units, due - timedelta(hours=2))
    await renew_account(cycle, main, due)


async def _extras(store: Store, config: Config, main: str, index: int, at: datetime) -> None:
    """A pack bought in the third month, autobuy from the sixth, a voucher in the fourth."""
    meter = Meter(store, config.usage, main)
    if index == 2:
        await pay_in(store, config, main, PACK[3], at - timedelta(minutes=5))
        await buy_pack(meter, main, PACK[0], at, actor=main)
    if index == 3:
        await credit_account(
            store,
            main,
            usd(50_000, config),
            reason="voucher WELCOME",
            kind=EntryKind.VOUCHER,
            balance=Balance.VOUCHER,
            ref=f"history-voucher:{main}",
            at=at,
            policy=config.billing,
        )
    if index == 5:
        await set_autobuy(meter, main, PACK[0], True, at)

"""The demo's accounts: the whole product in the first minute of ``make demo``.

``demo@localhost`` is a paid account on the default plan (a credit activated
it: its first month is on an invoice, paid), has usage this month, a phone
number, and pays for a second account, ``demo-leaf@localhost``. All of it goes
through the domain's own functions (a credit, a join, usage from the
gateway's path), each idempotent: the next demo on the same data changes
nothing (Redis keeps its data in ``.local/demo-SERVER``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from payments.billing.payment import credit_account
from payments.config import Config
from payments.groups import flow as groups
from payments.ledger.records import EntryKind
from payments.money import format_exact, parse_money
from payments.stores import Store
from payments.usage import flow as metering
from payments.usage.flow import Meter
from payments.usage.rules import UsageEvent

ACTOR: Final = "dev demo"
CREDIT: Final = "25"
NUMBERS: Final = ("+15550100001", "+15550100002")  # the main's, the leaf's
MAIN_USAGE: Final = (("sms", 12), ("voice_minutes", 34), ("mms", 2))
LEAF_USAGE: Final = (("sms", 5), ("voice_minutes", 11))


@dataclass(frozen=True, slots=True)
class Demo:
    main: str
    leaf: str
    plan: str
    balance: str

    def summary(self) -> str:
        return (
            f"{self.main} is on the {self.plan} plan (balance {self.balance}), has usage "
            f"this month, an invoice, and pays for {self.leaf}."
        )


async def prepare_demo(store: Store, config: Config, main: str, leaf: str, now: datetime) -> Demo:
    days = config.billing.trial_days
    await store.accounts.register_trial(main, now, days)
    await store.accounts.register_trial(leaf, now, days)
    amount = parse_money(CREDIT, config.billing.currency)
    await credit_account(
        store,
        main,
        amount,
        reason="demo welcome credit",
        kind=EntryKind.CREDIT,
        ref="demo-welcome",
        actor=ACTOR,
        at=now,
        policy=config.billing,
    )  # reaches [billing] activation_amount: on the default plan, first month invoiced
    await groups.join(groups.GroupFlow(store, config.billing, ACTOR), main, leaf, now)
    for jid, number in zip((main, leaf), NUMBERS, strict=True):
        await store.numbers.assign(jid, number)
    await metering.ingest(Meter(store, config.usage, ACTOR), usage_events(main, leaf, now), now)
    snapshot = await store.accounts.plan_snapshot(main)
    plan = await store.plans.version(snapshot["plan"], int(snapshot["version"]))
    balance = (await store.ledger.balances(main)).total
    return Demo(main, leaf, plan.name if plan else snapshot["plan"], format_exact(balance))


def usage_events(main: str, leaf: str, now: datetime) -> list[UsageEvent]:
    """This month's usage: one event per resource, counted once per month whatever
    the number of demos (the event id names the month)."""
    month = f"{now:%Y-%m}"
    return [
        UsageEvent(f"demo:{month}:{jid}:{resource}", jid, resource, quantity, now)
        for jid, usage in ((main, MAIN_USAGE), (leaf, LEAF_USAGE))
        for resource, quantity in usage
    ]

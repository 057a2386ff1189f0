"""Redis memory of one account after a year, on a real redis-server.

The account of the issue's profile: paid (renewed every month from its
balance), ``MONTHLY`` usage events a month (420), settled four times a day,
a pack of SMS credits bought every six months and drawn on beyond the
allowance, credits expiring. The simulated year takes seconds of real time,
so the keys a real clock would have expired by then (event-id sets of days
past the usage window) are left out; every other key of the account is
counted with ``MEMORY USAGE``.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from accountbot.stack import RedisServer
from payments.billing.cycle import Cycle, default_policy
from payments.billing.payment import credit_account
from payments.billing.renewal import renew_account
from payments.config import UsageConfig
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.usage.flow import Meter, buy_pack, expire_account, ingest, settle_account
from payments.usage.rules import SLOT_HOURS, UsageEvent
from payments.usage.store import EVENTS_GRACE

WHO = "year@example.org"
START = datetime(2025, 1, 1, tzinfo=UTC)
MONTHLY = {"sms": 300, "voice_minutes": 100, "mms": 20}  # events a month
ALLOWANCES = {"sms": 200, "voice_minutes": 300, "mms": 10}
POLICY = default_policy("USD")


async def _open_paid_account(store: Store) -> None:
    await store.plans.put(
        "year", at=START, price=Money(100_000), name="Year", allowances=ALLOWANCES
    )
    await store.packs.put("sms1000", at=START, resource="sms", quantity=1000, price=Money(1))
    await store.accounts.register_trial(WHO, START, 30)
    await store.billing.set_next_plan(WHO, "year")
    await credit_account(
        store, WHO, Money(3_000_000), reason="bench", kind=EntryKind.PAYMENT, at=START,
        policy=POLICY, ref="bench:year",
    )  # fmt: skip


def _events(serial: int, now: datetime) -> list[UsageEvent]:
    """The events of one settlement slot: MONTHLY spread evenly over the month's slots."""
    events = []
    for resource, monthly in MONTHLY.items():
        per_slot = monthly / (4 * 30)
        count = int(per_slot * (serial + 1)) - int(per_slot * serial)
        events += [
            UsageEvent(f"ev-{serial}-{resource}-{k}", WHO, resource, 1, now) for k in range(count)
        ]
    return events


async def year_of_history(store: Store) -> datetime:
    """The year, slot by slot; returns the instant it ends."""
    await _open_paid_account(store)
    meter, cycle = Meter(store, UsageConfig(), "bench"), Cycle(store, POLICY, "chore:renew")
    now, serial = START, 0
    while now < START + timedelta(days=365):
        if now.day == 1 and now.hour == 0 and now.month % 6 == 1:
            await buy_pack(meter, WHO, "sms1000", now, actor=WHO)
        if events := _events(serial, now):
            await ingest(meter, events, now)
        now += timedelta(hours=SLOT_HOURS)
        serial += 1
        await settle_account(meter, WHO, now)
        await renew_account(cycle, WHO, now)  # bills the month once it is due, else nothing
        if now.hour == 0:
            await expire_account(meter, WHO, now, send=True)
    return now


async def measure(store: Store, now: datetime, usage: UsageConfig) -> dict[str, Any]:
    """Bytes, keys and ledger entries of the account as a real clock would leave them."""
    found = [k async for k in store.redis.scan_iter(match=f"*{{{WHO}}}*", count=1000)]
    live = [k for k in found if not _expired_event_set(k, now, usage)]
    sizes = {k: int(await store.redis.memory_usage(k, samples=0) or 0) for k in live}
    entries = int(await store.redis.xlen(f"payment-transactions-{{{WHO}}}"))
    return {
        "bytes": sum(sizes.values()),
        "keys": len(live),
        "ledger_entries": entries,
        "by_key": sizes,
    }


def _expired_event_set(key: str, now: datetime, usage: UsageConfig) -> bool:
    """An event-id set of a day whose ids a real clock would have dropped by ``now``."""
    name = key.split("-{", 1)[0]
    if not name.startswith("payment-usage_events_"):
        return False
    day = datetime.strptime(name.rsplit("_", 1)[1], "%Y%m%d").replace(tzinfo=UTC)
    return day + timedelta(days=1 + usage.late_days) + EVENTS_GRACE < now


async def measured_year() -> dict[str, Any]:
    """The year on a redis-server of its own, measured at its end."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        store = Store.from_url(redis.url)
        try:
            return await measure(store, await year_of_history(store), UsageConfig())
        finally:
            await store.close()
            if redis.child is not None:
                redis.child.stop()


async def run() -> list[dict[str, Any]]:
    found = await measured_year()
    return [
        {"case": f"Redis memory of one paid account after 12 months ({sum(MONTHLY.values())} "
         "events/month, settled 4x a day, renewed monthly)", "keys": found["keys"],
         "ledger_entries": found["ledger_entries"], "bytes": found["bytes"],
         "summary": "memory_per_account_year_bytes"},
    ]  # fmt: skip


if __name__ == "__main__":  # every key of the account, with its size
    year = asyncio.run(measured_year())
    for key, size in sorted(year["by_key"].items()):
        print(f"{size:8d} {key}")
    print(f"{year['bytes']} bytes, {year['keys']} keys, {year['ledger_entries']} ledger entries")

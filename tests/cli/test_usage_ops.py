"""Metering as operators run it: `accountbot web` serving the gateway, `admin pack`, the
usage chores under their lock and as dry runs, and the systemd units and timers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from accountbot.cli import main
from accountbot.stack import Child, Stack
from payments.billing.cycle import Cycle
from payments.chores.registry import run_chores
from payments.chores.runner import ChoreRun
from payments.config import load_config
from payments.stores import Store
from payments.usage.flow import buy_pack, ingest
from tests.support import ROOT
from tests.support.billing import POLICY, days
from tests.support.usage import T0, A, batch, customer, events, meter, sms_pack, sms_plan
from tests.usage.test_usage_gateway import snapshot


async def test_accountbot_web_serves_the_gateway(
    web_service: tuple[Child, Path], real_store: Store
) -> None:
    _, config_path = web_service
    config = load_config(config_path)
    await sms_plan(real_store, sms=2)
    await customer(real_store, at=time_now())
    auth = {"Authorization": f"Bearer {config.gateway.token.reveal()}"}
    base = config.web.public_url
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.post(f"{base}/api/v1/usage", json=batch(A, 2, at=time_now())) as r:
            assert r.status == 200 and (await r.json())["counted"] == 2
        query = {"jid": A, "resource": "sms"}
        async with http.get(f"{base}/api/v1/authorize", params=query) as r:
            assert (await r.json())["reason"] == "exhausted"
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
    assert 'accountbot_usage_events_total{status="counted"} 2' in text
    assert 'accountbot_authorizations_total{decision="exhausted",resource="sms"} 1' in text


def time_now() -> datetime:
    return datetime.now(UTC)


def cli(stack: Stack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--config", str(stack.config_path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_admin_pack_set_versions_prices_and_refuses_bad_input(
    redis_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(flush(redis_stack))
    code, out = cli(redis_stack, capsys, "admin", "pack", "list")
    assert code == 0 and "no packs yet" in out
    code, out = cli(redis_stack, capsys, "admin", "pack", "set", "sms500")
    assert code == 2 and "pack sms500 is new: it needs a resource, a quantity and a price" in out
    code, out = cli(
        redis_stack, capsys, "admin", "pack", "set", "sms500",
        "--resource", "sms", "--quantity", "500", "--price", "6",
    )  # fmt: skip
    assert code == 0 and "new version: sms500  v1  500 sms  $6.00" in out
    code, out = cli(redis_stack, capsys, "admin", "pack", "set", "sms500", "--price", "6")
    assert code == 0 and out.startswith("unchanged: sms500  v1")
    code, out = cli(redis_stack, capsys, "admin", "pack", "set", "sms500", "--price", "5.50")
    assert code == 0 and "v2  500 sms  $5.50" in out
    code, out = cli(redis_stack, capsys, "admin", "pack", "list", "--versions")
    assert [line.split("  ")[1] for line in out.splitlines()] == ["v1", "v2"]
    for bad, message in (
        (["Bad Id", "--resource", "sms"], "a pack id is"),
        (["x", "--resource", "fax", "--quantity", "1", "--price", "1"], "--resource: one of"),
        (["x", "--resource", "sms", "--quantity", "-4", "--price", "1"], "--quantity"),
        (["x", "--resource", "sms", "--quantity", "4", "--price", "1.00001"], "4 decimals"),
    ):
        code, out = cli(redis_stack, capsys, "admin", "pack", "set", *bad)
        assert code == 2 and message in out, out


async def flush(stack: Stack) -> None:
    store = Store.from_url(stack.redis.url)
    await store.redis.flushdb()
    await store.close()


async def test_the_usage_chores_take_their_lock_and_a_dry_run_changes_nothing(
    real_store: Store,
) -> None:
    await sms_plan(real_store, sms=5)
    await sms_pack(real_store, quantity=100, price="1")
    await customer(real_store)
    await buy_pack(meter(real_store), A, "sms1000", T0, actor=A)
    await ingest(meter(real_store), events(A, 30), T0)
    lines: list[str] = []
    later = T0 + days(366)

    def run_at(now: datetime, dry_run: bool = False) -> ChoreRun:
        return ChoreRun(Cycle(real_store, POLICY), now, dry_run, progress=lines.append)

    before = await snapshot(real_store)
    reports = await run_chores(run_at(later, dry_run=True), "all")
    assert await snapshot(real_store) == before
    assert any(line.startswith(f"would settle {A}: sms 2026-03: 30 used") for line in lines)
    assert any(line.startswith(f"would expire 100 sms credits of {A}") for line in lines)
    last = ["expire-credits", "reward-referrals", "archive-ledger"]
    assert [r.name for r in reports][-3:] == last
    # Two hosts at once share the shards: a shard's lock keeps the other host out while
    # one works on it, so A's shard is settled by one of them, once.
    first, second = await asyncio.gather(
        run_chores(run_at(T0), "settle-usage"), run_chores(run_at(T0), "settle-usage")
    )
    hosts = (first[0], second[0])
    assert [r.counts["settled"] for r in hosts] in ([1, 0], [0, 1]), hosts
    assert [r.errors for r in hosts] == [0, 0]
    counters = await real_store.usage.month(A, "202603")
    assert counters["settled:sms"] == counters["used:sms"] == "30"  # settled once


def test_systemd_units_run_the_usage_chores_on_their_timers() -> None:
    units = {p.name: p.read_text() for p in (ROOT / "systemd").glob("accountbot-*")}
    for name, every in (
        ("settle-usage", "OnCalendar=*-*-* 00,06,12,18:05:00 UTC"),
        ("expire-credits", "OnCalendar=*-*-* 00:20:00 UTC"),
    ):
        service = settings(units[f"accountbot-{name}.service"])
        assert service["ExecStart"] == [f"/opt/accountbot/.venv/bin/accountbot chore {name}"]
        assert service["Type"] == ["oneshot"] and service["User"] == ["accountbot"]
        assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
        timer = units[f"accountbot-{name}.timer"]
        assert every in timer and f"Unit=accountbot-{name}.service" in timer
        assert "Persistent=true" in timer


def settings(unit: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values

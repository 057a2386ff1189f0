"""`accountbot web` as operators run it: a real process on a free port, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from accountbot.stack import Child
from payments.config import load_config
from payments.money import Money
from payments.stores import Store
from payments.web.links import topup_url
from tests.support import ROOT

ALICE = "alice@localhost"


async def test_web_service_takes_a_test_payment_and_stops_cleanly_on_sigterm(
    web_service: tuple[Child, Path], real_store: Store
) -> None:
    child, config_path = web_service
    config = load_config(config_path)
    base = config.web.public_url
    async with aiohttp.ClientSession() as http:
        link = topup_url(config, ALICE, datetime.now(UTC), Money.whole(25))
        async with http.post(link, data={"method": "test"}) as response:
            assert response.status == 200 and "Payment received" in await response.text()
        async with http.get(f"{base}/metrics") as response:
            assert 'accountbot_payments_credited_total{provider="test"} 1' in await response.text()
    assert (await real_store.ledger.balances(ALICE)).prepaid == Money.whole(25)
    assert child.proc is not None
    started = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    assert child.proc.wait(15) == 0
    assert time.monotonic() - started < 12
    log = child.log.read_text()
    assert "web service stopped" in log and "Traceback" not in log
    assert link.rsplit("/", 1)[1] not in log  # the access log shows routes, not tokens
    assert "POST /topup/{token} 303" in log


def test_web_service_with_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[web]\nport = "eighty"\n')
    result = subprocess.run(
        [sys.executable, "-m", "accountbot", "web", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "accountbot: [web] port: expected an integer"


def test_systemd_unit_runs_the_web_service_sandboxed_as_its_own_user() -> None:
    unit = (ROOT / "systemd" / "accountbot-web.service").read_text()
    settings = [line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#"]
    values: dict[str, list[str]] = {}
    for key, value in settings:
        values.setdefault(key, []).append(value)
    assert values["ExecStart"] == ["/opt/accountbot/.venv/bin/accountbot web"]
    assert values["User"] == ["accountbot"] and values["Restart"] == ["on-failure"]
    assert values["ProtectSystem"] == ["strict"] and values["NoNewPrivileges"] == ["yes"]
    assert values["KillSignal"] == ["SIGTERM"] and values["CapabilityBoundingSet"] == [""]

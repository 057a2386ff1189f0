"""`make bench-scale` stays runnable: the million-account run on a few hundred accounts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scale.mix import Kind, units
from tests.support import ROOT


@pytest.mark.slow
def test_bench_scale_times_every_phase_and_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "bench-scale.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--accounts", "600", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    rows = figures["phases"]
    assert [row["phase"] for row in rows] == [
        "load (bulk loader)",
        "renew chore, May 1st (one day due)",
        "usage ingest (gateway)",
        "settle-usage chore",
        "renew chore, May 2nd-30th (the rest of the month)",
        "admin reconcile (CLI)",
    ]
    load, day, used, settled, month, reconcile = rows
    renewing = [u for u in units(600) if u.kind is not Kind.TRIAL]
    assert load["count"] == 600
    assert day["count"] + month["count"] == len(renewing)
    assert used["count"] == 6 * sum(u.kind is Kind.PACK for u in renewing) > 0
    assert settled["count"] == sum(u.kind is Kind.PACK for u in renewing)
    assert reconcile["detail"].startswith("0 mismatches")
    assert all("; 0 errors" in row["detail"] for row in (day, settled, month))
    memory = figures["memory"]
    assert memory["at_end"]["keys"] > memory["after_load"]["keys"] > 600
    assert "INFO memory, at end" in result.stdout

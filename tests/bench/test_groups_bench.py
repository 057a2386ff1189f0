"""`make bench` stays runnable: the group lookup benchmark on small sizes (not a timed test)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def test_bench_groups_reports_every_size_in_one_table() -> None:
    env = {**os.environ, "BENCH_GROUPS_SIZES": "10,1000", "BENCH_GROUPS_N": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "groups"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, rule, *rows = result.stdout.strip().splitlines()
    assert header.split()[:2] == ["bench", "case"] and "median_us" in header
    assert set(rule.replace(" ", "")) == {"-"}
    assert len(rows) == 4
    assert [r.split("  ")[1].strip() for r in rows[:2]] == [
        "baseline: one GET",
        "main_of(leaf): GET + LINDEX 0",
    ]
    assert {"10", "1,000"} == {row.split()[-5] for row in rows}

"""`make bench` stays runnable: the webhooks benchmark on a small load (one node, a cluster)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def test_bench_webhooks_reports_both_rates_in_one_table() -> None:
    env = {**os.environ, "BENCH_WEBHOOKS_N": "200", "BENCH_WEBHOOKS_C": "8"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "webhooks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, rule, baseline, ours, on_cluster = result.stdout.strip().splitlines()
    assert header.split()[:2] == ["bench", "case"] and "per_second" in header
    assert set(rule.replace(" ", "")) == {"-"}
    assert "baseline" in baseline and "Stripe webhook" in ours
    assert "Redis Cluster" in on_cluster
    per_second = header.split().index("per_second") - len(header.split())
    for row in (ours, on_cluster):
        assert float(row.split()[per_second].replace(",", "")) > 0

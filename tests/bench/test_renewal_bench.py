"""`make bench` stays runnable: the renewal benchmark on a few accounts, one node and a
cluster (in process, then one and three ``accountbot chore renew`` processes on each)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import ROOT


@pytest.mark.slow
def test_bench_renewal_reports_one_node_and_the_cluster_in_one_table() -> None:
    sizes = {"BENCH_RENEWAL_N": "300", "BENCH_RENEWAL_HOSTS_N": "300"}
    env = {**os.environ, **sizes, "BENCH_RENEWAL_CLUSTER_N": "300"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "renewal"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, _rule, *rows = result.stdout.strip().splitlines()
    cases = [" ".join(row.split()[1:6]) for row in rows]
    assert len(rows) == 7 and "baseline" in rows[0] and "renew chore" in rows[1], cases
    assert "redis-server, 1 host(s)" in rows[2] and "redis-server, 3 host(s)" in rows[3], cases
    assert "Redis Cluster" in rows[4] and "1 host(s)" in rows[5] and "3 host(s)" in rows[6]
    per_second = header.split().index("per_second") - len(header.split())
    assert all(float(row.split()[per_second].replace(",", "")) > 0 for row in rows)

"""`make bench` stays runnable: the account page benchmark on a small load."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT


def test_bench_account_page_reports_the_page_next_to_healthz() -> None:
    env = {**os.environ, "BENCH_ACCOUNT_PAGE_N": "20", "BENCH_ACCOUNT_PAGE_DAYS": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "account_page"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, rule, health, page = result.stdout.strip().splitlines()
    assert header.split()[:2] == ["bench", "case"] and "median_ms" in header
    assert set(rule.replace(" ", "")) == {"-"}
    assert "/healthz" in health and "account page, 12 months" in page
    per_second = header.split().index("per_second") - len(header.split())
    assert float(page.split()[per_second].replace(",", "")) > 0

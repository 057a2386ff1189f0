"""`make bench` stays runnable: the bot's ``balance`` bench on a tiny load (not a timed test).

It starts everything itself (redis-server, Prosody with the echo component,
the bot process, the front and two workers, the echo component, the load client)
and fails unless each bot answered every message as ``balance`` ``ok``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

TINY = {"BENCH_BOT_N": "200", "BENCH_BOT_C": "8", "BENCH_BOT_M": "20", "BENCH_BOT_ROUNDS": "1"}


def test_bench_bot_writes_the_bot_balance_figure_beside_the_others(tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    figures.write_text(json.dumps({"renewal": {"per_second": 1.0, "vs_baseline": 0.5}}))
    env = {**os.environ, **TINY, "BENCH_JSON": str(figures)}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "bot"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    header, _rule, echo, bot, front = result.stdout.strip().splitlines()
    assert "vs_baseline" in header and "p50_vs_baseline" in header
    assert "baseline: echo component" in echo and "bot: balance" in bot
    assert "through a front, 2 worker processes" in front
    written = json.loads(figures.read_text())
    assert written["renewal"] == {"per_second": 1.0, "vs_baseline": 0.5}
    for figure in ("bot_balance", "bot_balance_front"):
        row = written[figure]
        assert set(row) == {"per_second", "vs_baseline", "p50_ms", "p50_vs_baseline"}
        assert row["per_second"] > 0 and row["p50_ms"] > 0

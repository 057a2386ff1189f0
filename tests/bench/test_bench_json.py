"""`make bench` writes its headline figures to a JSON file, beside the bot's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import summary, table, write_summary
from bench.bench_gateway import Timed, _rows


def test_each_headline_row_gives_its_figures_and_the_memory_its_bytes() -> None:
    base = [Timed(2.0, 0, [0.001, 0.002, 0.004]), Timed(4.0, 0, [0.01])]
    ours = [Timed(4.0, 0, [0.002, 0.003, 0.010]), Timed(8.0, 250, [0.02])]
    memory = {"bench": "memory", "case": "a year", "bytes": 15_000}
    rows = [*_rows(100, 8, 10, base, ours), memory | {"summary": "memory_per_account_year_bytes"}]
    found = summary(rows)
    assert set(found) == {"authorize", "usage", "memory_per_account_year_bytes"}
    assert found["authorize"] == {
        "per_second": 25.0,
        "vs_baseline": 0.5,
        "p50_ms": 3.0,
        "p99_ms": 10.0,
    }
    assert found["usage"]["events_per_second"] == 10 / 8.0 * 25
    assert found["usage"]["vs_baseline"] == 0.5
    assert found["memory_per_account_year_bytes"] == 15_000
    assert "summary" not in table(rows)


def test_the_file_keeps_the_figures_of_benches_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bench.json"
    path.write_text(
        json.dumps({"bot_balance": {"per_second": 1.0}, "webhook": {"per_second": 1.0}})
    )
    monkeypatch.setenv("BENCH_JSON", str(path))
    row = {"case": "webhook", "per_second": 9.0, "vs_baseline": 0.9, "summary": "webhook"}
    assert write_summary([row]) == path
    assert json.loads(path.read_text()) == {
        "bot_balance": {"per_second": 1.0},
        "webhook": {"per_second": 9.0, "vs_baseline": 0.9},
    }

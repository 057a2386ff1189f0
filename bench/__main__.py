"""``python -m bench [NAME ...]``: run every ``bench/bench_*.py``, print one table and write
the headline figures to ``.local/bench.json`` (``BENCH_JSON``: another path).

A row that is a headline carries ``summary``: its name in the JSON (``renewal``,
``authorize``, ``usage``, ``webhook``, ``memory_per_account_year_bytes``), never shown in
the table. Each figure goes with its same-run ratio: ``{"renewal": {"per_second": ...,
"vs_baseline": ...}, ..., "memory_per_account_year_bytes": ...}``. The file is updated,
not replaced: a bench not run keeps its last figures, and ``bench_bot.py`` writes its
``bot_balance`` into the same file itself.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Row = Mapping[str, Any]
SUMMARY = "summary"  # a row's name in bench.json; not a column of the table
ROOT = Path(__file__).resolve().parent.parent
# The figures a headline row gives to bench.json (those it has).
FIGURES = ("per_second", "events_per_second", "vs_baseline", "p50_ms", "p99_ms")


def discover(only: Sequence[str]) -> list[str]:
    here = str(Path(__file__).resolve().parent)
    names = sorted(m.name for m in pkgutil.iter_modules([here]) if m.name.startswith("bench_"))
    wanted = {f"bench_{n.removeprefix('bench_')}" for n in only}
    return [n for n in names if not wanted or n in wanted]


def run_module(name: str) -> list[Row]:
    module = importlib.import_module(f"bench.{name}")
    result = module.run()
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return [{"bench": name.removeprefix("bench_"), **row} for row in result]


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary(rows: Sequence[Row]) -> dict[str, Any]:
    """The headline rows by their ``summary`` name: their figures, or the bare number of a
    row that has one figure only (``bytes``: the memory row)."""
    found: dict[str, Any] = {}
    for row in rows:
        if SUMMARY in row:
            figures = {k: row[k] for k in FIGURES if k in row}
            found[row[SUMMARY]] = figures or row["bytes"]
    return found


def write_summary(rows: Sequence[Row]) -> Path:
    path = Path(os.environ.get("BENCH_JSON", ROOT / ".local" / "bench.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(path.read_text("utf-8")) if path.exists() else {}
    path.write_text(json.dumps(known | summary(rows), indent=2, sort_keys=True) + "\n")
    return path


def table(rows: Sequence[Row]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and k != SUMMARY]
    cells = [[cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) for row in rows if c in row) for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def main(argv: Sequence[str]) -> int:
    modules = discover(argv)
    if not modules:
        print(f"no benchmark matches {' '.join(argv)}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    for name in modules:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += run_module(name)
    print(table(rows))
    print(f"wrote {write_summary(rows)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``python -m bench [NAME ...]``: run every ``bench/bench_*.py`` and print one table."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Row = Mapping[str, Any]


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


def table(rows: Sequence[Row]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

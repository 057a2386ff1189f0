"""``python -m bench.scale [--accounts N] [--concurrency C]`` (``make bench-scale``): the
million-account run; prints one table and writes ``.local/bench-scale.json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.__main__ import table
from bench.scale.run import Results, run

OUT = Path(".local/bench-scale.json")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def rows(results: Results) -> list[dict[str, Any]]:
    found = [phase.row() for phase in results.phases]
    for when, fields in results.memory.items():
        per = fields["used_memory"] / results.accounts
        found.append(
            {"phase": f"INFO memory, {when.replace('_', ' ')}", "count": fields["keys"],
             "unit": "keys", "detail": f"used_memory {fields['used_memory']:,} B "
             f"({per:,.0f} B an account), dataset {fields['used_memory_dataset']:,} B, "
             f"rss {fields['used_memory_rss']:,} B"}
        )  # fmt: skip
    return found


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.concurrency < 1:
        parser.error("--accounts and --concurrency must be at least 1")
    results = asyncio.run(run(args.accounts, args.concurrency, say))
    print(table(rows(results)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results.as_json(), indent=2) + "\n")
    say(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

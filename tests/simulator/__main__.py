"""``python -m tests.simulator [--seeds N] [--first S] [--steps K] [--jobs J]`` (``make simulate``).

Runs N seeded histories against a redis-server of its own (or ``--redis URL``),
prints one line per failing seed with the violation and the end of its log,
then a summary: histories, steps, crashes injected, races, time.
Exit 1 if any history broke an invariant. ``--seed S --log`` replays one.
With ``--jobs J`` the seeds are dealt to J processes, 25 at a time, each with a
redis-server of its own (a history is one process's loop: the oracle after each
step costs more than the step, so histories side by side use the cores), and the
running totals are printed after each 25.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from accountbot.stack import RedisServer
from tests.simulator.run import Outcome, history
from tests.support import ROOT

CHUNK = 25  # seeds a job runs on one redis-server of its own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__)
    parser.add_argument("--seeds", type=int, default=50, help="histories to run")
    parser.add_argument("--first", type=int, default=1, help="the first seed")
    parser.add_argument("--seed", type=int, help="replay this one seed (with --log)")
    parser.add_argument("--steps", type=int, default=200, help="steps per history")
    parser.add_argument("--accounts", type=int, default=8, help="accounts per history")
    parser.add_argument("--jobs", type=int, default=1, help="processes running histories")
    parser.add_argument("--redis", help="a redis URL to use (flushed!) instead of our own")
    parser.add_argument("--log", action="store_true", help="print every history's log")
    parser.add_argument("--grep", default="", help="with --log: only the lines holding this")
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.jobs > 1 and args.redis):
        parser.error("--jobs takes a number from 1, and each job needs its own redis (no --redis)")
    seeds = (
        [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    )
    started = time.monotonic()
    outcomes = run_seeds(seeds, args) if args.jobs == 1 else run_jobs(seeds, args, started)
    return conclude(sorted(outcomes, key=lambda o: o.seed), time.monotonic() - started)


def run_jobs(seeds: list[int], args: argparse.Namespace, started: float) -> list[Outcome]:
    """Deal ``seeds`` to ``--jobs`` processes a chunk at a time, with the running totals
    after each chunk (a long run stopped half-way still says how far it got)."""
    chunks = [seeds[i : i + CHUNK] for i in range(0, len(seeds), CHUNK)]
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for done in as_completed([pool.submit(run_seeds, chunk, args) for chunk in chunks]):
            outcomes += done.result()
            print(f"so far: {summary(outcomes, time.monotonic() - started)}", flush=True)
    return outcomes


def run_seeds(seeds: list[int], args: argparse.Namespace) -> list[Outcome]:
    """Run ``seeds`` one after the other on ``--redis`` or a redis-server of their own."""
    # The product logs what a history provokes on purpose (a provider that did not answer):
    # the histories' own lines say it, in order.
    logging.basicConfig(level=logging.ERROR)
    if args.redis:
        return asyncio.run(run_all(args.redis, seeds, args))
    server = RedisServer(Path(ROOT / ".local" / f"sim-{secrets.token_hex(3)}"))
    server.start()
    try:
        return asyncio.run(run_all(server.url, seeds, args))
    finally:
        if server.child is not None:
            server.child.stop()


async def run_all(url: str, seeds: list[int], args: argparse.Namespace) -> list[Outcome]:
    outcomes = []
    for seed in seeds:
        outcome = await history(url, seed, args.steps, args.accounts)
        outcomes.append(outcome)
        if outcome.violation or args.log:
            report(outcome, full=args.log, grep=args.grep)
    return outcomes


def conclude(outcomes: list[Outcome], seconds: float) -> int:
    failed = [o.seed for o in outcomes if o.violation]
    print(summary(outcomes, seconds))
    if failed:
        print(f"failing seeds: {failed} (replay: python -m tests.simulator --seed S --log)")
    return 1 if failed else 0


def report(outcome: Outcome, *, full: bool, grep: str = "") -> None:
    print(f"seed {outcome.seed}: " + (outcome.violation or "ok"), flush=True)
    lines = [ln for ln in outcome.log if grep in ln or "chore" in ln or "time" in ln]
    for line in lines if full else outcome.log[-12:]:
        print("    " + line, flush=True)


def summary(outcomes: list[Outcome], seconds: float) -> str:
    steps = sum(o.steps for o in outcomes)
    crashes = sum(o.crashes for o in outcomes)
    races = sum(o.races for o in outcomes)
    bad = sum(1 for o in outcomes if o.violation)
    return (
        f"simulator: {len(outcomes)} histories, {steps} steps, {crashes} crashes injected, "
        f"{races} races, {bad} broke an invariant, {seconds:.1f}s"
    )


if __name__ == "__main__":
    raise SystemExit(main())

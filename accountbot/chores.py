"""``accountbot chore NAME [--now ISO8601] [--dry-run]``: the billing and usage chores.

Run by systemd timers (``systemd/``) on one or more hosts; a Redis lock per
chore and shard lets each shard be done by one host at a time (the hosts
share the shards). Prints progress, then one summary line per chore (printed
as each ends), and with ``[metrics] chores_textfile_dir`` a node-exporter
textfile per chore (``accountbot/chore_metrics.py``). Exit codes: 0 done (or
skipped: other hosts hold the shards), 1 some accounts could not be handled
(named in the output) or Redis failed (a failover: run it again), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from datetime import datetime
from pathlib import Path

from redis.exceptions import RedisError

from accountbot.chore_metrics import write_textfiles
from accountbot.common import EXIT_OK, EXIT_REFUSED, CliError, Commands, common, config_of
from payments.billing.cycle import Cycle
from payments.cards.desk import opened_desk
from payments.chores.registry import ALL, CHORES, run_chores
from payments.chores.runner import DEFAULT_CONCURRENCY, ChoreReport, ChoreRun
from payments.clock import as_utc, utcnow
from payments.stores import Store


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    chore = common(commands.add_parser("chore", help="run a billing chore (renew, remind, ...)"))
    chore.add_argument("name", choices=[*CHORES, "all"], help=f"one chore, or all of {ALL}")
    chore.add_argument("--now", help="run as of this instant (ISO 8601; UTC when no offset)")
    chore.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    chore.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="accounts handled at once"
    )
    chore.set_defaults(handler=run)


def parse_now(text: str | None) -> datetime:
    if not text:
        return utcnow()
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise CliError(
            f"--now: expected an ISO 8601 instant like 2026-03-01T00:00:00Z, not {text!r}"
        ) from None


def say(line: str) -> None:
    print(line, flush=True)


async def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    now = parse_now(args.now)
    if args.concurrency < 1:
        raise CliError("--concurrency: at least 1")
    store = Store.for_config(config)
    try:
        async with opened_desk(store, config, "chore:cards") as desk:
            chore_run = ChoreRun(
                Cycle(store, config.billing),
                now,
                args.dry_run,
                progress=say,
                concurrency=args.concurrency,
                usage=config.usage,
                ledger=config.ledger,
                cards=desk,
                referral=config.referral,
            )
            reports = await _run(chore_run, args.name)
    except RedisError as exc:  # an outage, a failover under way: each step is idempotent
        say(f"{args.name}: stopped, Redis failed ({type(exc).__name__}: {exc}); run it again")
        return EXIT_REFUSED
    finally:
        await store.close()
    if config.metrics.chores_textfile_dir and not args.dry_run:
        write_textfiles(Path(config.metrics.chores_textfile_dir), reports)
    return EXIT_REFUSED if any(r.errors for r in reports) else EXIT_OK


async def _run(chore_run: ChoreRun, name: str) -> list[ChoreReport]:
    loop = asyncio.get_running_loop()
    # SIGTERM (systemd stop): finish the accounts in hand, release the lock, report.
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, chore_run.stop.set)
    try:
        return await run_chores(chore_run, name)
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)

"""``accountbot``: the one command-line entry point.

Exit codes: 0 done, 1 the operation was refused or found a problem
(insufficient funds, a reconcile mismatch), 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from accountbot import admin, botcmd, chores, console, dev, web_cmd
from accountbot.common import EXIT_REFUSED, EXIT_USAGE, CliError, Handler
from payments.config import ConfigError
from payments.errors import PaymentsError
from payments.jid import BadJID
from payments.money import InvalidAmount


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accountbot", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: $ACCOUNTBOT_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (admin, chores, botcmd, console, dev, web_cmd):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        outcome = handler(args)
        result = asyncio.run(outcome) if asyncio.iscoroutine(outcome) else outcome
    except (ConfigError, CliError, InvalidAmount, BadJID) as exc:
        print(f"accountbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PaymentsError as exc:
        print(f"accountbot: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    return int(result or 0)

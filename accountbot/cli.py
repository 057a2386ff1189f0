"""``accountbot``: the one command-line entry point.

Exit codes: 0 done, 1 the operation was refused or found a problem
(insufficient funds, a reconcile mismatch), 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from payments.config import ConfigError, load_config
from payments.errors import PaymentsError
from payments.jid import BadJID
from payments.money import InvalidAmount

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int] | int]


class CliError(Exception):
    """Bad input on the command line: one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from accountbot import admin, botcmd, chores, console, dev, web_cmd

    parser = argparse.ArgumentParser(prog="accountbot", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: $ACCOUNTBOT_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    admin.add_commands(commands)
    chores.add_commands(commands)
    botcmd.add_commands(commands)
    console.add_commands(commands)
    dev.add_commands(commands)
    web_cmd.add_commands(commands)
    return parser


def common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every subcommand takes, also after the subcommand's name."""
    parser.add_argument("--config", default=argparse.SUPPRESS, help="config file")
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


def config_of(args: argparse.Namespace) -> Any:
    return load_config(getattr(args, "config", None))

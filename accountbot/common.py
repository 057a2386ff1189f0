"""What every ``accountbot`` command shares: exit codes, errors, options, config, the store."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from payments.config import Config, load_config
from payments.stores import Store

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int] | int]
Commands = argparse._SubParsersAction  # the subcommands of a parser


class CliError(Exception):
    """Bad input on the command line: one line, exit code 2."""


def common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every subcommand takes, also after the subcommand's name."""
    parser.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    return parser


def config_of(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def operator() -> str:
    """Who an operator's change is recorded as: ``cli:USER``."""
    return f"cli:{getpass.getuser()}"


@asynccontextmanager
async def opened(config: Config) -> AsyncIterator[Store]:
    store = Store.for_config(config)
    try:
        yield store
    finally:
        await store.close()

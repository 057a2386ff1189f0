"""``accountbot bot``: the XMPP bot process."""

from __future__ import annotations

import argparse
import asyncio

from accountbot.common import EXIT_OK, Commands, common, config_of
from accountbot.logs import setup_logging
from bot.app import run_bot


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    bot = common(commands.add_parser("bot", help="run the XMPP bot (component or client)"))
    bot.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING"], help="default: [log] level"
    )
    bot.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    setup_logging(config.log, args.log_level)
    asyncio.run(run_bot(config))
    return EXIT_OK

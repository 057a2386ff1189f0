"""``accountbot bot``: the XMPP bot process."""

from __future__ import annotations

import argparse
import asyncio
import logging

from accountbot.common import EXIT_OK, Commands, common, config_of
from bot.app import run_bot


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    bot = common(commands.add_parser("bot", help="run the XMPP bot (component or client)"))
    bot.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    bot.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(run_bot(config))
    return EXIT_OK

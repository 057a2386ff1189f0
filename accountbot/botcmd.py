"""``accountbot bot``: the XMPP bot process."""

from __future__ import annotations

import argparse
import asyncio
import logging

from accountbot.cli import EXIT_OK, common, config_of


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bot = common(commands.add_parser("bot", help="run the XMPP bot (component or client)"))
    bot.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    bot.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot.app import run_bot

    config = config_of(args)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(run_bot(config))
    return EXIT_OK

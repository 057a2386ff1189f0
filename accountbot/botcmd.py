"""``accountbot bot``: the XMPP bot process; ``accountbot front``: the front that lets
several of them share one component connection (docs/operations.md, "Bot processes")."""

from __future__ import annotations

import argparse
import asyncio
import socket
from dataclasses import replace

from accountbot.common import EXIT_OK, CliError, Commands, common, config_of
from accountbot.logs import setup_logging
from bot.app import run_bot
from bot.front import run_front
from payments.config import Config

LOG_LEVELS = ["DEBUG", "INFO", "WARNING"]
DEFAULT_FRONT_PORT = 5348  # the front's port for its workers, on loopback


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    bot = common(commands.add_parser("bot", help="run the XMPP bot (component or client)"))
    bot.add_argument("--log-level", choices=LOG_LEVELS, help="default: [log] level")
    bot.add_argument(
        "--front", type=int, metavar="PORT", help="be a worker of the front on this loopback port"
    )
    bot.add_argument(
        "--worker", type=int, default=0, metavar="N", help="this worker's number (with --front)"
    )
    bot.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="/metrics here, 0: none (default: [metrics] bot_port, plus N for worker N)",
    )
    bot.set_defaults(handler=run)
    front = common(
        commands.add_parser("front", help="own the component connection for N bot workers")
    )
    front.add_argument("--log-level", choices=LOG_LEVELS, help="default: [log] level")
    front.add_argument(
        "--listen-port",
        type=int,
        default=DEFAULT_FRONT_PORT,
        help=f"loopback port the workers connect to (default {DEFAULT_FRONT_PORT})",
    )
    front.set_defaults(handler=run_front_cmd)


def run(args: argparse.Namespace) -> int:
    config = as_worker(config_of(args), args)
    setup_logging(config.log, args.log_level)
    consumer = f"bot-{socket.gethostname()}-w{args.worker}" if args.front else ""
    asyncio.run(run_bot(config, consumer=consumer))
    return EXIT_OK


def as_worker(config: Config, args: argparse.Namespace) -> Config:
    """The config of a worker: the front instead of the server, its own /metrics port."""
    if (port := metrics_port(config, args)) is not None:
        config = replace(config, metrics=replace(config.metrics, bot_port=port))
    if args.front is None:
        return config
    if config.xmpp.mode != "component":
        raise CliError('--front: workers are components ([xmpp] mode = "component")')
    return replace(config, xmpp=replace(config.xmpp, host="127.0.0.1", port=args.front))


def metrics_port(config: Config, args: argparse.Namespace) -> int | None:
    """``--metrics-port``, else worker N serves on ``[metrics] bot_port`` + N (they would
    all ask for the same port otherwise)."""
    if args.metrics_port is not None:
        return int(args.metrics_port)
    if args.front is not None and config.metrics.bot_port:
        return config.metrics.bot_port + int(args.worker)
    return None


def run_front_cmd(args: argparse.Namespace) -> int:
    config = config_of(args)
    if config.xmpp.mode != "component":
        raise CliError('front: it owns a component connection ([xmpp] mode = "component")')
    setup_logging(config.log, args.log_level)
    asyncio.run(run_front(config.xmpp, args.listen_port))
    return EXIT_OK

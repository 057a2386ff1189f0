"""``accountbot web``: the payments web service (top-up pages, webhooks, health, metrics)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from accountbot.common import EXIT_OK, Commands, common, config_of, opened
from accountbot.logs import setup_logging
from payments.catalog.declared import prepare_catalog
from payments.clock import utcnow
from payments.config import Config
from payments.web.app import AccessLogger, build_app

SHUTDOWN_TIMEOUT = 10.0  # seconds given to requests in flight after SIGTERM


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    cmd = common(commands.add_parser("web", help="run the payments web service"))
    cmd.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    config = config_of(args)
    setup_logging(config.log)
    app = build_app(config)
    asyncio.run(catalog_at_start(config))  # ConfigError: refuse to start
    logging.getLogger("accountbot.web").info(
        "listening on http://%s:%d/ (public %s)",
        config.web.host,
        config.web.port,
        config.web.public_url,
    )
    # run_app turns SIGTERM and SIGINT into a graceful stop: it stops accepting,
    # lets requests in flight finish (up to SHUTDOWN_TIMEOUT), then runs the
    # app's cleanup (closes Redis and the HTTP client) and returns.
    web.run_app(
        app,
        host=config.web.host,
        port=config.web.port,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        access_log_class=AccessLogger,
        print=None,
    )
    return EXIT_OK


async def catalog_at_start(config: Config) -> None:
    async with opened(config) as store:
        await prepare_catalog(store, config, utcnow())

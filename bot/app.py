"""The bot process: one owner of Redis, the XMPP connection and the outbox task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from bot.metrics import BotMetrics, serve_metrics
from bot.outbox import OutboxConsumer
from bot.xmpp import AccountBot
from payments.catalog.declared import prepare_catalog
from payments.clock import utcnow
from payments.config import Config
from payments.stores import Store

log = logging.getLogger(__name__)


async def run_bot(config: Config, stop: asyncio.Event | None = None, consumer: str = "") -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then close everything.

    ``consumer`` names this process in the outbox's consumer group: each worker
    behind a front needs its own (docs/operations.md, "Bot processes").
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    store = Store.for_config(config)
    metrics = BotMetrics()
    bot = AccountBot(config.xmpp, Dispatcher(build_registry(), store, config), metrics)
    outbox = OutboxConsumer(
        store,
        bot.send_notification,
        bot.connected,
        consumer,
        offer_days=config.billing.invite_days,
        metrics=metrics,
    )
    outbox_task = asyncio.create_task(outbox.run(), name="outbox")
    served: web.AppRunner | None = None
    try:
        await store.ping()
        await prepare_catalog(store, config, utcnow())  # ConfigError: refuse to start
        if config.metrics.bot_port:
            served = await serve_metrics(metrics, config.metrics.host, config.metrics.bot_port)
        bot.start()
        await stop.wait()
    finally:
        log.info("stopping")
        outbox_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await outbox_task
        await bot.stop()
        if served is not None:
            await served.cleanup()
        await store.close()

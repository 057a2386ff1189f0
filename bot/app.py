"""The bot process: one owner of Redis, the XMPP connection and the outbox task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from bot.outbox import OutboxConsumer
from bot.xmpp import AccountBot
from payments.catalog.declared import prepare_catalog
from payments.clock import utcnow
from payments.config import Config
from payments.stores import Store

log = logging.getLogger(__name__)


async def run_bot(config: Config, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then close everything."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    store = Store.open(config.redis, currency=config.billing.currency)
    bot = AccountBot(config.xmpp, Dispatcher(build_registry(), store, config))
    outbox = OutboxConsumer(
        store, bot.send_notification, bot.connected, offer_days=config.billing.invite_days
    )
    outbox_task = asyncio.create_task(outbox.run(), name="outbox")
    try:
        await store.ping()
        await prepare_catalog(store, config, utcnow())  # ConfigError: refuse to start
        bot.start()
        await stop.wait()
    finally:
        log.info("stopping")
        outbox_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await outbox_task
        await bot.stop()
        await store.close()

"""The bot's Prometheus metrics (prometheus-client), served on ``[metrics] host:bot_port``.

Commands by name and outcome (``ok`` or the XMPP error condition of the
reply), the time from a request's arrival to its answer, messages by kind,
the outbox's lag (from a notice's queueing to its sending), reconnections.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)

REPLY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS: Final = (0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0)


class BotMetrics:
    def __init__(self) -> None:
        disable_created_metrics()
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "accountbot_bot_commands",
            "Requests answered, by face (chat, adhoc), command and outcome (ok or the error).",
            ("face", "command", "outcome"),
            registry=registry,
        )
        self.reply_seconds = Histogram(
            "accountbot_bot_reply_seconds",
            "Time from a request's arrival to its answer, by face.",
            ("face",),
            buckets=REPLY_BUCKETS,
            registry=registry,
        )
        self.messages = Counter(
            "accountbot_bot_messages",
            "Chat messages received, by kind (command, encrypted, ignored).",
            ("kind",),
            registry=registry,
        )
        self.outbox_lag = Histogram(
            "accountbot_bot_outbox_lag_seconds",
            "Time from a notice's queueing in the outbox to its sending.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.reconnects = Counter(
            "accountbot_bot_reconnects",
            "Sessions opened again after the first one (lost connections).",
            registry=registry,
        )
        self.connected = Gauge(
            "accountbot_bot_connected", "1 while connected to the server.", registry=registry
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


async def serve_metrics(metrics: BotMetrics, host: str, port: int) -> web.AppRunner:
    """``GET /metrics`` on ``host:port`` (the caller cleans the runner up)."""

    async def exposition(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", exposition)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics on http://%s:%d/metrics", host, port)
    return runner

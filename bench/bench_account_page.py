"""Rendering the account page of a main account with twelve months of history, next to
``/healthz``, on a real redis-server.

The account (and the two leaves it pays for) gets a generated year
(``tests/support/history.py``: renewals, usage on ``BENCH_ACCOUNT_PAGE_DAYS`` days
of each month (default 30), each day settled into the ledger, packs, top-ups,
an open invoice). The web service runs in this process on loopback; one
client asks ``BENCH_ACCOUNT_PAGE_N`` times (default 300), one request at a
time, first ``/healthz`` (a Redis PING: the least a request costs), then the
account page: every read of the page and its HTML, its four charts included.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from accountbot.stack import RedisServer, free_port
from bench.support import wait_ready
from payments.config import Config, RedisConfig, Secret, WebConfig
from payments.stores import Store
from payments.web.app import build_app
from payments.web.links import account_url
from tests.support.history import year_of_history

MAIN = "bench-main@example.org"


async def _timed(http: aiohttp.ClientSession, url: str, n: int) -> tuple[float, list[float]]:
    """Total seconds of ``n`` sequential GETs, and each one's milliseconds."""
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        async with http.get(url) as response:
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
            await response.read()
        samples.append((time.perf_counter() - t0) * 1000)
    return time.perf_counter() - started, samples


def _row(case: str, n: int, seconds: float, ms: list[float], base: float) -> dict[str, Any]:
    rate = n / seconds
    return {
        "case": case,
        "requests": n,
        "per_second": rate,
        "median_ms": statistics.median(ms),
        "p95_ms": sorted(ms)[int(len(ms) * 0.95) - 1],
        "vs_baseline": rate / base if base else 1.0,
    }


async def _measure(config: Config, n: int, days: int) -> list[dict[str, Any]]:
    store = Store.from_url(config.redis.url)
    try:
        await year_of_history(store, config, MAIN, datetime.now(UTC), days=days)
        entries = len(await store.ledger.entries(MAIN))
    finally:
        await store.close()
    runner = web.AppRunner(build_app(config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.web.port).start()
    try:
        async with aiohttp.ClientSession() as http:
            await wait_ready(config.web.public_url, http)
            page = account_url(config, MAIN, datetime.now(UTC))
            await _timed(http, page, max(n // 10, 1))  # warm-up
            health_s, health_ms = await _timed(http, f"{config.web.public_url}/healthz", n)
            page_s, page_ms = await _timed(http, page, n)
    finally:
        await runner.cleanup()
    base = n / health_s
    return [
        _row("/healthz (Redis PING)", n, health_s, health_ms, 0.0),
        _row(f"account page, 12 months, {entries} ledger entries", n, page_s, page_ms, base),
    ]


async def run() -> list[dict[str, Any]]:
    n = int(os.environ.get("BENCH_ACCOUNT_PAGE_N", "300"))
    days = int(os.environ.get("BENCH_ACCOUNT_PAGE_DAYS", "30"))
    with tempfile.TemporaryDirectory(prefix="bench-page-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            port = free_port()
            config = Config(
                redis=RedisConfig(url=redis.url),
                web=WebConfig(
                    port=port,
                    public_url=f"http://127.0.0.1:{port}",
                    link_secret=Secret("bench-link-secret"),
                ),
            )
            return await _measure(config, n, days)
        finally:
            if redis.child is not None:
                redis.child.stop()


if __name__ == "__main__":
    print(asyncio.run(run()))

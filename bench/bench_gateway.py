"""The gateway API against a real redis-server, each next to a baseline.

Both servers run as their own process on loopback, started the same way
(``aiohttp.web.run_app``), and get the same load from one client in this
process, in the same run on the same redis-server:

- ``authorize``: ``BENCH_GATEWAY_N`` requests (default 4000), ``BENCH_GATEWAY_C``
  at a time (default 32), over ``ACCOUNTS`` paid accounts (a tenth of them
  leaves, whose credits are their main's). Baseline: a handler that checks
  nothing and does one Redis GET.
- ``usage``: N/10 batches of ``BATCH`` events each (every event new, spread
  over the accounts; a tenth of them beyond the allowance, drawn on credits).
  Ours checks the token, validates, counts each account's events in one Lua
  script and answers once all is written. Baseline: a handler that reads the
  body and does one Redis GET.

The Redis memory of an account after a year is ``bench_memory.py``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

from accountbot.stack import RedisServer, free_port
from bench.support import wait_ready
from payments.billing.cycle import default_policy
from payments.billing.payment import credit_account
from payments.config import UsageConfig, load_config
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from payments.usage.flow import Meter, buy_pack
from payments.web.app import build_app

TOKEN = "bench-gateway-token"
ACCOUNTS = 200
BATCH = 25
ALLOWANCES = {"sms": 100_000, "voice_minutes": 100_000, "mms": 5}
POLICY = default_policy("USD")


def jid(i: int) -> str:
    return f"gw{i:04d}@example.org"


def _config_text(redis_url: str, port: int) -> str:
    return f"""
[xmpp]
secret = "bench"
[redis]
url = "{redis_url}"
[web]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
link_secret = "bench-link-secret"
[gateway]
token = "{TOKEN}"
"""


# --- the two servers ------------------------------------------------------------------


def _serve_baseline(args: tuple[int, str]) -> None:
    port, redis_url = args
    redis = open_redis(redis_url)

    async def one_get(request: web.Request) -> web.Response:
        await request.read()
        value = await redis.get("bench-baseline")
        return web.json_response({"allow": value is not None})

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/api/v1/authorize", one_get)
    app.router.add_post("/api/v1/usage", one_get)
    app.router.add_get("/healthz", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _serve_ours(config_path: str) -> None:
    config = load_config(config_path, env={})
    web.run_app(
        build_app(config), host="127.0.0.1", port=config.web.port, print=None, access_log=None
    )


# --- load ------------------------------------------------------------------------------


Request = tuple[str, str, bytes | None]  # method, path and query, body


def _authorize_requests(n: int) -> list[Request]:
    resources = ("sms", "voice_minutes", "mms")
    return [
        ("GET", f"/api/v1/authorize?jid={jid(i % ACCOUNTS)}&resource={resources[i % 3]}", None)
        for i in range(n)
    ]


def _usage_requests(batches: int, tag: str) -> list[Request]:
    at = datetime.now(UTC).isoformat()
    requests: list[Request] = []
    for b in range(batches):
        events = [
            {
                "event_id": f"{tag}-{b}-{e}",
                "jid": jid((b * BATCH + e) % ACCOUNTS),
                "resource": ("sms", "voice_minutes", "mms")[e % 3],
                "quantity": 1 + e % 3,
                "at": at,
            }
            for e in range(BATCH)
        ]
        requests.append(("POST", "/api/v1/usage", json.dumps({"events": events}).encode()))
    return requests


class Timed(NamedTuple):
    seconds: float  # to answer every request
    counted: int  # events the answers say were counted
    latencies: list[float]  # seconds of each request, sorted

    def percentile_ms(self, p: float) -> float:
        return self.latencies[min(len(self.latencies) - 1, int(len(self.latencies) * p))] * 1000


async def _load(base: str, requests: list[Request], concurrency: int) -> Timed:
    """Answer every request, ``concurrency`` at a time: how long, what was counted."""
    queue = list(reversed(requests))
    counted = 0
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def worker() -> None:
            nonlocal counted
            while queue:
                method, path, body = queue.pop()
                sent = time.perf_counter()
                async with http.request(method, base + path, data=body) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{path}: HTTP {response.status}")
                    answer = await response.json()
                    counted += int(answer.get("counted", 0))
                latencies.append(time.perf_counter() - sent)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Timed(time.perf_counter() - started, counted, sorted(latencies))


async def _measure(
    target: Any, arg: Any, port: int, loads: list[list[Request]], c: int
) -> list[Timed]:
    """Start a server, warm it up with the first load, time each of the others."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=(arg,), daemon=True)
    process.start()
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            await wait_ready(base, http)
        await _load(base, loads[0], c)
        return [await _load(base, load, c) for load in loads[1:]]
    finally:
        process.terminate()
        process.join(10)


# --- accounts ---------------------------------------------------------------------------


async def _accounts(store: Store, now: datetime) -> None:
    """ACCOUNTS paid accounts on a plan with large allowances; every tenth is a leaf."""
    await store.plans.put(
        "basic", at=now, price=Money(100_000), name="Basic", allowances=ALLOWANCES
    )
    await store.packs.put("mms100", at=now, resource="mms", quantity=100, price=Money(10_000))
    plan = await store.plans.get("basic")
    assert plan is not None
    meter = Meter(store, UsageConfig(), "bench")
    for i in range(ACCOUNTS):
        who = jid(i)
        if i % 10 == 9:  # a leaf of the account before it
            main = jid(i - 1)
            index = await store.groups.create(main)
            await store.groups.join(index, main, who, plan, at=now)
            continue
        await store.accounts.register_trial(who, now, 30)
        await credit_account(
            store,
            who,
            Money(500_000),
            reason="bench",
            kind=EntryKind.PAYMENT,
            at=now,
            policy=POLICY,
        )
        await buy_pack(meter, who, "mms100", now, actor="bench")
    await store.redis.set("bench-baseline", "1")


# --- the run -------------------------------------------------------------------------------


async def run() -> list[dict[str, Any]]:
    n = int(os.environ.get("BENCH_GATEWAY_N", "4000"))
    c = int(os.environ.get("BENCH_GATEWAY_C", "32"))
    batches = max(n // 10, 10)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            store = Store.from_url(redis.url)
            try:
                await _accounts(store, datetime.now(UTC))
            finally:
                await store.close()
            base_port, our_port = free_port(), free_port()
            config = Path(tmp) / "config.toml"
            config.write_text(_config_text(redis.url, our_port))
            auth, usage = _authorize_requests(n), _usage_requests
            base_times = await _measure(
                _serve_baseline, (base_port, redis.url), base_port,
                [auth[: c * 4], auth, usage(batches, "b")], c,
            )  # fmt: skip
            our_times = await _measure(
                _serve_ours, str(config), our_port,
                [auth[: c * 4], auth, usage(batches, "o")], c,
            )  # fmt: skip
        finally:
            if redis.child is not None:
                redis.child.stop()
    counted = our_times[-1].counted  # the leaves' draw markers are in the event sets too
    if counted != batches * BATCH:
        raise RuntimeError(f"counted {counted} events, expected {batches * BATCH}")
    return _rows(n, c, batches, base_times, our_times)


def _rows(
    n: int,
    c: int,
    batches: int,
    base: list[Timed],
    ours: list[Timed],
) -> list[dict[str, Any]]:
    auth_base, auth_ours = n / base[0].seconds, n / ours[0].seconds
    usage_base, usage_ours = batches / base[1].seconds, batches / ours[1].seconds
    return [
        {"case": "baseline: aiohttp GET, one Redis GET", "requests": n, "concurrency": c,
         "per_second": auth_base, "vs_baseline": 1.0, "p50_ms": base[0].percentile_ms(0.5),
         "p99_ms": base[0].percentile_ms(0.99)},
        {"case": "GET /api/v1/authorize (token, one script call)", "requests": n,
         "concurrency": c, "per_second": auth_ours, "vs_baseline": auth_ours / auth_base,
         "p50_ms": ours[0].percentile_ms(0.5), "p99_ms": ours[0].percentile_ms(0.99),
         "summary": "authorize"},
        {"case": f"baseline: aiohttp POST of {BATCH} events, one Redis GET", "requests": batches,
         "concurrency": c, "per_second": usage_base, "events_per_second": usage_base * BATCH,
         "vs_baseline": 1.0},
        {"case": f"POST /api/v1/usage, {BATCH} events a batch, counted once each",
         "requests": batches, "concurrency": c, "per_second": usage_ours,
         "events_per_second": usage_ours * BATCH, "vs_baseline": usage_ours / usage_base,
         "summary": "usage"},
    ]  # fmt: skip


if __name__ == "__main__":
    print(asyncio.run(run()))

"""Verified Stripe webhooks per second against a real redis-server and a Redis Cluster,
next to a bare aiohttp 200.

Both servers run as their own process on loopback, started the same way
(``aiohttp.web.run_app``), and get the same load from one client in this
process: ``BENCH_WEBHOOKS_N`` requests (default 3000), ``BENCH_WEBHOOKS_C`` at
a time (default 32). The baseline handler does the HTTP work of any webhook
handler and nothing else: it reads the body and answers a small JSON (before
2026-11-30 it answered without reading the body). Ours reads it, checks the
``Stripe-Signature`` HMAC and timestamp, parses the event, credits the account
through the Lua script (one new payment per request: every request is a real
credit), queues the notification and answers. Bodies are signed before the clock starts. On the
cluster (3 masters, 3 replicas, local) it also waits, before answering, for the
credit to be on a replica (``[redis] wait_replicas``, 1 there by default).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from accountbot.stack import LocalCluster, RedisServer, free_port
from bench.support import config_text, wait_ready
from payments.config import load_config
from payments.money import Money
from payments.stores import Store
from payments.topup.providers.stripe import signature_header
from payments.web.app import build_app

WHSEC = "whsec_bench"
ACCOUNTS = 50
CENTS = 500


async def _ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")  # /healthz


async def _read_and_answer(request: web.Request) -> web.Response:
    """The HTTP work of any webhook handler: read the body, answer a small JSON."""
    await request.read()
    return web.json_response({"status": "ok"})


def _serve_baseline(port: int) -> None:
    app = web.Application()
    app.router.add_post("/webhooks/stripe", _read_and_answer)
    app.router.add_get("/healthz", _ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _serve_ours(config_path: str) -> None:
    config = load_config(config_path, env={})
    app = build_app(config)
    web.run_app(app, host="127.0.0.1", port=config.web.port, print=None, access_log=None)


def _bodies(n: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    now = int(time.time())
    signed = []
    for i in range(n):
        event = {
            "id": f"evt_{tag}_{i}",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": f"cs_{tag}_{i}",
                    "metadata": {"jid": f"bench{i % ACCOUNTS}@localhost"},
                    "amount_total": CENTS,
                    "currency": "usd",
                    "payment_status": "paid",
                }
            },
        }
        body = json.dumps(event).encode()
        signed.append((body, {"Stripe-Signature": signature_header(WHSEC, body, now)}))
    return signed


async def _load(url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int) -> float:
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            while queue:
                body, headers = queue.pop()
                async with http.post(url, data=body, headers=headers) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{url}: HTTP {response.status}")
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def _measure(target: Any, arg: Any, port: int, requests: list[Any], c: int) -> float:
    process = multiprocessing.get_context("spawn").Process(target=target, args=(arg,), daemon=True)
    process.start()
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            await wait_ready(base, http)
        await _load(f"{base}/webhooks/stripe", requests[: c * 4], c)  # warm-up
        return await _load(f"{base}/webhooks/stripe", requests[c * 4 :], c)
    finally:
        process.terminate()
        process.join(10)


async def run() -> list[dict[str, Any]]:
    n = int(os.environ.get("BENCH_WEBHOOKS_N", "3000"))
    c = int(os.environ.get("BENCH_WEBHOOKS_C", "32"))
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            base_port = free_port()
            baseline = await _measure(
                _serve_baseline, base_port, base_port, _bodies(n + c * 4, "b"), c
            )
            ours = await _ours(redis.url, Path(tmp), n, c, "o")
        finally:
            redis.stop()
        cluster = LocalCluster(Path(tmp) / "cluster")
        cluster.start()
        try:
            on_cluster = await _ours(cluster.url, Path(tmp), n, c, "k")
        finally:
            cluster.stop()
    base_rate, our_rate, cluster_rate = n / baseline, n / ours, n / on_cluster
    common = {"requests": n, "concurrency": c}
    return [
        {"case": "baseline: aiohttp handler, body read, JSON 200", **common,
         "per_second": base_rate, "vs_baseline": 1.0},
        {"case": "Stripe webhook: verify + credit in real Redis", **common, "per_second": our_rate,
         "vs_baseline": our_rate / base_rate, "summary": "webhook"},
        {"case": "Stripe webhook on a Redis Cluster: + WAIT for 1 replica", **common,
         "per_second": cluster_rate, "vs_baseline": cluster_rate / base_rate},
    ]  # fmt: skip


async def _ours(redis_url: str, tmp: Path, n: int, c: int, tag: str) -> float:
    """Seconds our web service took for ``n`` webhooks on ``redis_url`` (each one credited)."""
    port = free_port()
    config = tmp / f"config-{tag}.toml"
    config.write_text(config_text(redis_url, port, stripe_secret=WHSEC))
    elapsed = await _measure(_serve_ours, str(config), port, _bodies(n + c * 4, tag), c)
    credited = await _credited(redis_url)
    if credited != Money(CENTS * 100 * (n + c * 4)):
        raise RuntimeError(f"credited {credited}, expected one credit per request")
    return elapsed


async def _credited(url: str) -> Money:
    store = Store.from_url(url)
    try:
        total = Money(0)
        for i in range(ACCOUNTS):
            total += (await store.ledger.balances(f"bench{i}@localhost")).prepaid
        return total
    finally:
        await store.close()


if __name__ == "__main__":
    print(asyncio.run(run()))

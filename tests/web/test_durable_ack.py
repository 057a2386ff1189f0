"""A webhook and a usage batch are acknowledged only once their writes are on
``[redis] wait_replicas`` replicas; when the wait times out the answer is a 503 to
retry, and the retry (same event, same ids) changes the books no more.

Here the redis-server has no replica: a deployment asking for one times out every
time, as one whose replica fell behind would; the retry goes to a service asking
for none (the replica caught up).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp

from payments.config import GatewayConfig, Secret, UsageConfig
from payments.money import Money
from payments.stores import Store
from payments.web.app import build_app
from payments.web.gateway import GATEWAY
from tests.support.usage import T0, A, batch, customer, sms_plan
from tests.support.webfakes import make_config, serve, stripe_event, stripe_headers

TOKEN = "gateway-token"


@asynccontextmanager
async def service(redis_url: str, wait_replicas: int) -> AsyncIterator[str]:
    nowhere = "http://127.0.0.1:9"  # Stripe's API: a webhook never calls it
    config = make_config(redis_url, nowhere, stripe_base=nowhere, wait_replicas=wait_replicas)
    config = replace(config, gateway=GatewayConfig(Secret(TOKEN)), usage=UsageConfig())
    app = build_app(config)
    async with serve(app) as base:
        app[GATEWAY].clock = lambda: T0
        yield base


async def post(base: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(base + path, data=body, headers=headers) as response,
    ):
        return response.status, (await response.json(), response.headers.get("Retry-After"))


async def test_a_webhook_not_yet_on_its_replica_is_retried_and_credits_once(
    real_store: Store, redis_url: str
) -> None:
    body = json.dumps(stripe_event(A, 2500, session_id="cs_behind")).encode()
    async with service(redis_url, wait_replicas=1) as base:
        status, (reply, retry) = await post(base, "/webhooks/stripe", body, stripe_headers(body))
    assert (status, reply, retry) == (503, {"error": "not_yet_durable"}, "5")
    assert (await real_store.ledger.balances(A)).prepaid == Money.whole(25)  # written
    async with service(redis_url, wait_replicas=0) as base:
        status, (reply, _) = await post(base, "/webhooks/stripe", body, stripe_headers(body))
    assert (status, reply) == (200, {"status": "already credited"})
    assert (await real_store.ledger.balances(A)).prepaid == Money.whole(25)
    assert len(await real_store.ledger.entries(A)) == 1


async def test_a_usage_batch_not_yet_on_its_replica_is_retried_and_counts_once(
    real_store: Store, redis_url: str
) -> None:
    await sms_plan(real_store, sms=100)
    await customer(real_store)
    body = json.dumps(batch(A, 3)).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with service(redis_url, wait_replicas=1) as base:
        status, (reply, retry) = await post(base, "/api/v1/usage", body, headers)
    assert (status, reply, retry) == (503, {"error": "not_yet_durable", "retry": True}, "5")
    async with service(redis_url, wait_replicas=0) as base:
        status, (reply, _) = await post(base, "/api/v1/usage", body, headers)
    assert (status, reply["counted"], reply["duplicates"]) == (200, 0, 3)
    assert (await real_store.usage.month(A, "202603"))["used:sms"] == "3"

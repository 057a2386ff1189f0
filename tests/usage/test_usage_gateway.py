"""The gateway API over real HTTP on loopback, against the stack's redis-server.

``/api/v1/authorize`` and ``/api/v1/usage`` as the telephony gateway calls
them; the service's clock is moved by the test (the chores take ``--now``).
Each refusal is a 4xx that leaves Redis exactly as it was.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from accountbot.stack import Stack
from payments import keys
from payments.accounts.records import FreezeKind
from payments.billing.freezes import Froze, freeze_unpaid, operator_freeze
from payments.billing.renewal import renew_account
from payments.config import Config, load_config
from payments.stores import Store
from payments.web.app import build_app
from payments.web.gateway import GATEWAY
from payments.web.state import METRICS
from tests.support.billing import cycle_of, days, top_up
from tests.support.streams import stream, text
from tests.support.usage import T0, A, batch, customer, sms_plan
from tests.support.webfakes import serve


@dataclass
class Gateway:
    base: str
    app: web.Application
    config: Config
    http: aiohttp.ClientSession
    store: Store
    now: datetime = T0

    @property
    def token(self) -> str:
        return self.config.gateway.token.reveal()

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token if token is None else token}"}

    async def authorize(self, jid: str, resource: str, **headers: str) -> tuple[int, Any]:
        params = {"jid": jid, "resource": resource}
        async with self.http.get(
            f"{self.base}/api/v1/authorize", params=params, headers=headers or self.auth()
        ) as response:
            return response.status, await response.json()

    async def allowed(self, jid: str, resource: str) -> bool:
        status, body = await self.authorize(jid, resource)
        assert status == 200, body
        return bool(body["allow"])

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(
            f"{self.base}/api/v1/usage",
            data=data,
            headers={"Content-Type": "application/json", **(headers or self.auth())},
        ) as response:
            return response.status, await response.json()


@pytest.fixture
async def gateway(redis_stack: Stack, real_store: Store) -> AsyncIterator[Gateway]:
    config = load_config(redis_stack.config_path)
    app = build_app(config)
    async with serve(app) as base, aiohttp.ClientSession() as http:
        gw = Gateway(base, app, config, http, real_store)
        app[GATEWAY].clock = lambda: gw.now
        yield gw


async def snapshot(store: Store) -> dict[str, Any]:
    """Every key and its value: to prove a refused request changed nothing."""
    found: dict[str, Any] = {}
    for key in sorted([text(k) async for k in store.redis.scan_iter("*")]):
        kind = await store.redis.type(key)
        if kind == "hash":
            found[key] = await store.redis.hgetall(key)
        elif kind == "set":
            found[key] = sorted(await store.redis.smembers(key))
        elif kind == "zset":
            found[key] = await store.redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            found[key] = len(await stream(store.redis, key))
        else:
            found[key] = await store.redis.get(key)
    return found


async def test_the_101st_sms_is_denied_while_calls_go_on(gateway: Gateway) -> None:
    await sms_plan(gateway.store, sms=100)
    await customer(gateway.store)
    for i in range(100):
        assert await gateway.allowed(A, "sms"), i
        status, body = await gateway.post(batch(A, 1, prefix=f"sms-{i}-"))
        assert (status, body["counted"]) == (200, 1)
    status, body = await gateway.authorize(A, "sms")
    assert (status, body) == (
        200,
        {"jid": A, "resource": "sms", "allow": False, "reason": "exhausted", "remaining": 0},
    )
    status, body = await gateway.authorize(A, "voice_minutes")
    assert body["allow"] and body["remaining"] == 300
    assert await gateway.allowed(A, "mms") is False  # the plan has no MMS at all
    # The month rolls over: SMS are allowed again.
    gateway.now = datetime(2026, 4, 1, 0, 0, 1, tzinfo=T0.tzinfo)
    assert await gateway.allowed(A, "sms")


async def test_a_batch_replayed_ten_times_and_concurrently_counts_once(gateway: Gateway) -> None:
    await sms_plan(gateway.store, sms=1000)
    await customer(gateway.store)
    body = batch(A, 50, quantity=2)
    for _ in range(10):
        status, _ = await gateway.post(body)
        assert status == 200
    results = await asyncio.gather(*(gateway.post(body) for _ in range(10)))
    assert [r[0] for r in results] == [200] * 10
    assert all(r[1]["duplicates"] == 50 for r in results)
    other = batch(A, 50, quantity=1, prefix="x")
    fresh = await asyncio.gather(*(gateway.post(other) for _ in range(10)))
    assert sum(r[1]["counted"] for r in fresh) == 50
    assert (await gateway.store.usage.month(A, "202603"))["used:sms"] == "150"
    status, answer = await gateway.authorize(A, "sms")
    assert answer["remaining"] == 850
    metrics = gateway.app[METRICS]
    assert metrics.usage_events.get(status="counted") == 100
    assert metrics.usage_events.get(status="duplicate") == 50 * (9 + 10 + 9)


def event(**changes: Any) -> dict[str, Any]:
    base = {"event_id": "e1", "jid": A, "resource": "sms", "quantity": 1, "at": T0.isoformat()}
    return {**base, **changes}


REFUSED = [
    pytest.param(b"{not json", 400, id="not-json"),
    pytest.param({"events": "many"}, 400, id="not-a-list"),
    pytest.param({"events": []}, 400, id="empty"),
    pytest.param({"events": [event(), "x"]}, 400, id="not-an-object"),
    pytest.param({"events": [{"event_id": "e1", "jid": A}]}, 400, id="missing-fields"),
    pytest.param({"events": [event(), event(resource="fax")]}, 422, id="unknown-resource"),
    pytest.param({"events": [event(), event(quantity=-3)]}, 422, id="negative"),
    pytest.param({"events": [event(quantity=0)]}, 422, id="zero"),
    pytest.param({"events": [event(quantity=1.5)]}, 422, id="fractional"),
    pytest.param({"events": [event(quantity=2.0)]}, 422, id="float"),
    pytest.param({"events": [event(quantity="3")]}, 422, id="string"),
    pytest.param({"events": [event(quantity=True)]}, 422, id="boolean"),
    pytest.param({"events": [event(jid="not a jid")]}, 422, id="bad-jid"),
    pytest.param({"events": [event(at="yesterday")]}, 422, id="bad-at"),
    pytest.param({"events": [event(event_id="")]}, 400, id="empty-id"),
    pytest.param({"events": [event(event_id=f"e{i}") for i in range(501)]}, 413, id="too-many"),
    pytest.param(b'{"events": [' + b" " * 70_000 + b"]}", 413, id="too-large"),
    pytest.param(b'{"events": [{"quantity": NaN}]}', 400, id="nan"),
]


@pytest.mark.parametrize(("body", "status"), REFUSED)
async def test_a_bad_batch_is_refused_whole_and_changes_nothing(
    gateway: Gateway, body: Any, status: int
) -> None:
    await sms_plan(gateway.store, sms=100)
    await customer(gateway.store)
    before = await snapshot(gateway.store)
    got, answer = await gateway.post(body)
    assert got == status, answer
    assert answer["error"] in ("bad_batch", "too_large")
    assert await snapshot(gateway.store) == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic"),
        pytest.param({"Authorization": "Bearer"}, id="empty"),
    ],
)
async def test_a_wrong_token_is_401_and_changes_nothing(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    await sms_plan(gateway.store, sms=100)
    await customer(gateway.store)
    before = await snapshot(gateway.store)
    data = json.dumps(batch(A, 3)).encode()
    async with gateway.http.post(
        f"{gateway.base}/api/v1/usage", data=data, headers=headers
    ) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    async with gateway.http.get(
        f"{gateway.base}/api/v1/authorize", params={"jid": A, "resource": "sms"}, headers=headers
    ) as response:
        assert response.status == 401
    assert await snapshot(gateway.store) == before
    refusals = gateway.app[METRICS].gateway_refusals
    assert refusals.get(endpoint="usage", reason="unauthorized") == 1


async def test_authorize_refuses_a_bad_question_and_answers_unknown_for_a_stranger(
    gateway: Gateway,
) -> None:
    status, body = await gateway.authorize(A, "fax")
    assert status == 400 and body["error"] == "unknown_resource"
    status, body = await gateway.authorize("", "sms")
    assert status == 400 and body["error"] == "bad_jid"
    status, body = await gateway.authorize("Stranger@Example.org/phone", "sms")
    assert (status, body["allow"], body["reason"], body["jid"]) == (
        200,
        False,
        "unknown",
        "stranger@example.org",
    )
    status, body = await gateway.post({"events": [event(jid="stranger@example.org")]})
    assert status == 200 and body["unknown_accounts"] == 1
    assert body["events"] == [{"event_id": "e1", "status": "unknown_account"}]


async def test_a_frozen_account_is_denied_everything_until_it_pays(gateway: Gateway) -> None:
    store = gateway.store
    await sms_plan(store, sms=100, price="20")
    await customer(store, amount="20")  # the first month took it all
    assert await gateway.allowed(A, "sms")
    # The next renewal cannot be paid: an invoice, then the freeze after the grace.
    cycle = cycle_of(store)
    account = await store.accounts.get(A)
    assert account is not None and account.next_renewal_at is not None
    due = account.next_renewal_at
    await renew_account(cycle, A, due)
    assert await gateway.allowed(A, "sms")  # in grace: still served
    assert await freeze_unpaid(cycle, A, due + days(8)) is Froze.FROZEN
    for resource in ("sms", "mms", "voice_minutes"):
        status, body = await gateway.authorize(A, resource)
        assert (status, body["allow"], body["reason"]) == (200, False, "frozen"), resource
    await top_up(store, A, "20", due + days(9), ref="pay-1")
    assert await gateway.allowed(A, "sms")
    # An operator's freeze is lifted by nobody but an operator.
    await operator_freeze(cycle, A, FreezeKind.VIOLATION, "spam", T0)
    assert not await gateway.allowed(A, "voice_minutes")
    await top_up(store, A, "10", due + days(10), ref="pay-2")
    assert not await gateway.allowed(A, "voice_minutes")
    assert await store.redis.hget(keys.freezes(A), "violation")

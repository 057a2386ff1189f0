"""Helpers of the web tests: our app on a real loopback port, and fake Stripe and BTCPay.

The fakes speak the documented shapes of the providers' APIs (Stripe:
form-encoded ``POST /v1/checkout/sessions`` with a Bearer key, answer with
``id`` and ``url``; BTCPay Greenfield: JSON ``POST
/api/v1/stores/{storeId}/invoices`` with ``Authorization: token``, answer
with ``id`` and ``checkoutLink``) and send signed webhooks to our service
the way the providers do, so the real client and webhook code runs.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web

from payments.config import (
    BillingConfig,
    BtcpayConfig,
    Config,
    InvoiceConfig,
    ProvidersConfig,
    RedisConfig,
    Secret,
    StripeConfig,
    TestProviderConfig,
    WebConfig,
)
from payments.topup.providers import btcpay, stripe
from payments.web.app import build_app

STRIPE_KEY = "sk_test_fake_key"
STRIPE_WHSEC = "whsec_test_secret"
BTCPAY_KEY = "btcpay-api-key"
BTCPAY_WHSEC = "btcpay-webhook-secret"
BTCPAY_STORE = "StoreAbc123"
LINK_SECRET = "link-secret-for-tests"
NO_SELLER = InvoiceConfig()  # the default [invoice] section


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serve(app: web.Application, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Run ``app`` on ``sock`` (default: a free loopback port); yields its base URL."""
    sock = sock or bound_socket()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()
        sock.close()


def make_config(
    redis_url: str,
    public_url: str,
    *,
    stripe_base: str = "",
    btcpay_base: str = "",
    test: bool = True,
    invoice: InvoiceConfig = NO_SELLER,
    billing: BillingConfig = BillingConfig(),  # noqa: B008 (immutable)
    **web_options: Any,
) -> Config:
    return Config(
        billing=billing,
        redis=RedisConfig(url=redis_url),
        invoice=invoice,
        web=WebConfig(public_url=public_url, link_secret=Secret(LINK_SECRET), **web_options),
        providers=ProvidersConfig(
            stripe=StripeConfig(
                enabled=bool(stripe_base),
                webhook_secret=Secret(STRIPE_WHSEC),
                api_key=Secret(STRIPE_KEY),
                api_base=stripe_base or "http://127.0.0.1:9",
            ),
            btcpay=BtcpayConfig(
                enabled=bool(btcpay_base),
                webhook_secret=Secret(BTCPAY_WHSEC),
                api_key=Secret(BTCPAY_KEY),
                api_base=btcpay_base or "http://127.0.0.1:9",
                store_id=BTCPAY_STORE,
            ),
            test=TestProviderConfig(enabled=test),
        ),
    )


@asynccontextmanager
async def running_service(
    redis_url: str,
    *,
    stripe_base: str = "",
    btcpay_base: str = "",
    invoice: InvoiceConfig = NO_SELLER,
    billing: BillingConfig = BillingConfig(),  # noqa: B008 (immutable)
    **options: Any,
) -> AsyncIterator[tuple[str, web.Application]]:
    """Our web service on a real port, with its public URL being that port."""
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = make_config(
        redis_url,
        base,
        stripe_base=stripe_base,
        btcpay_base=btcpay_base,
        invoice=invoice,
        billing=billing,
        **options,
    )
    app = build_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield base, app
    finally:
        await runner.cleanup()
        sock.close()


# --- Stripe -----------------------------------------------------------------


def stripe_event(
    jid: str,
    cents: int,
    *,
    session_id: str = "",
    kind: str = "checkout.session.completed",
    currency: str = "usd",
    payment_status: str = "paid",
) -> dict[str, Any]:
    session_id = session_id or f"cs_test_{secrets.token_hex(8)}"
    return {
        "id": f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "client_reference_id": "top_x",
                "metadata": {"jid": jid},
                "amount_total": cents,
                "currency": currency,
                "payment_status": payment_status,
                "status": "complete",
            }
        },
    }


def stripe_headers(
    body: bytes, *, secret: str = STRIPE_WHSEC, at: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if at is None else at
    return {
        "Stripe-Signature": stripe.signature_header(secret, body, stamp),
        "Content-Type": "application/json",
    }


@dataclass
class FakeStripe:
    """Stripe's Checkout Sessions API, as far as we use it."""

    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    webhook_url: str = ""
    base: str = ""
    api_key: str = STRIPE_KEY

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self.create)
        app.router.add_get("/c/pay/{id}", self.page)
        return app

    async def create(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"type": "authentication_error"}}, status=401)
        if request.content_type != "application/x-www-form-urlencoded":
            return web.json_response({"error": {"message": "form expected"}}, status=400)
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(
            {**form, "Idempotency-Key": request.headers.get("Idempotency-Key", "")}
        )
        required = (
            "mode", "success_url", "cancel_url", "line_items[0][price_data][currency]",
            "line_items[0][price_data][unit_amount]", "line_items[0][quantity]",
        )  # fmt: skip
        missing = [k for k in required if not form.get(k)]
        if missing or form["mode"] != "payment":
            return web.json_response({"error": {"message": f"missing {missing}"}}, status=400)
        session_id = f"cs_test_{secrets.token_hex(12)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"{self.base}/c/pay/{session_id}",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"])
            * int(form["line_items[0][quantity]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
            },
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
        }
        self.sessions[session_id] = session
        return web.json_response(session)

    async def page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return web.Response(status=404)
        return web.Response(text=f"Stripe checkout for {session['amount_total']} cents")

    def completed_event(self, session_id: str) -> bytes:
        session = {**self.sessions[session_id], "payment_status": "paid", "status": "complete"}
        event = {
            "id": f"evt_{secrets.token_hex(8)}",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": session},
        }
        return json.dumps(event).encode()

    async def pay(self, session_id: str, http: aiohttp.ClientSession) -> int:
        """The user paid: Stripe posts the signed event to the webhook endpoint."""
        body = self.completed_event(session_id)
        async with http.post(self.webhook_url, data=body, headers=stripe_headers(body)) as r:
            return r.status


# --- BTCPay -----------------------------------------------------------------


def btcpay_event(
    invoice_id: str, *, kind: str = "InvoiceSettled", store: str = BTCPAY_STORE
) -> dict[str, Any]:
    return {
        "deliveryId": secrets.token_hex(8),
        "webhookId": "Wh1",
        "originalDeliveryId": secrets.token_hex(8),
        "isRedelivery": False,
        "type": kind,
        "timestamp": int(time.time()),
        "storeId": store,
        "invoiceId": invoice_id,
        "manuallyMarked": False,
        "overPaid": False,
    }


def btcpay_headers(body: bytes, *, secret: str = BTCPAY_WHSEC) -> dict[str, str]:
    return {"BTCPay-Sig": btcpay.signature_header(secret, body), "Content-Type": "application/json"}


@dataclass
class FakeBtcpay:
    """BTCPay Server's Greenfield invoices API, as far as we use it."""

    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_url: str = ""
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/stores/{store}/invoices", self.create)
        return app

    async def create(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"token {BTCPAY_KEY}":
            return web.json_response({"code": "unauthenticated"}, status=401)
        if request.match_info["store"] != BTCPAY_STORE:
            return web.json_response({"code": "store-not-found"}, status=404)
        data = await request.json()
        amount = data.get("amount")
        if not isinstance(amount, str) or not isinstance(data.get("currency"), str):
            return web.json_response([{"path": "amount", "message": "string"}], status=422)
        invoice_id = secrets.token_hex(11)
        invoice = {
            "id": invoice_id,
            "storeId": BTCPAY_STORE,
            "amount": amount,
            "currency": data["currency"],
            "metadata": data.get("metadata", {}),
            "checkout": data.get("checkout", {}),
            "status": "New",
            "checkoutLink": f"{self.base}/i/{invoice_id}",
        }
        self.invoices[invoice_id] = invoice
        return web.json_response(invoice)

    async def settle(self, invoice_id: str, http: aiohttp.ClientSession) -> int:
        body = json.dumps(btcpay_event(invoice_id)).encode()
        async with http.post(self.webhook_url, data=body, headers=btcpay_headers(body)) as r:
            return r.status


@asynccontextmanager
async def fake_providers() -> AsyncIterator[tuple[FakeStripe, FakeBtcpay]]:
    fake_stripe, fake_btcpay = FakeStripe(), FakeBtcpay()
    async with serve(fake_stripe.app()) as s_base, serve(fake_btcpay.app()) as b_base:
        fake_stripe.base, fake_btcpay.base = s_base, b_base
        yield fake_stripe, fake_btcpay


# --- reading our pages as a browser would --------------------------------------


class FormReader(HTMLParser):
    """The fields a browser would submit from the page's form, as served."""

    def __init__(self) -> None:
        super().__init__()
        self.forms = 0
        self.method = ""
        self.radios: dict[str, list[tuple[str, bool]]] = {}
        self.texts: dict[str, str] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms += 1
            self.method = (a.get("method") or "get").lower()
        elif tag == "script":
            self.scripts += 1
        elif tag == "input" and a.get("type") == "radio":
            self.radios.setdefault(a["name"] or "", []).append((a["value"] or "", "checked" in a))
        elif tag == "input" and a.get("type") == "text":
            self.texts[a["name"] or ""] = a.get("value") or ""

    def defaults(self) -> dict[str, str]:
        chosen = {n: v for n, opts in self.radios.items() for v, on in opts if on}
        return {**self.texts, **chosen}


def read_form(page: str) -> FormReader:
    reader = FormReader()
    reader.feed(page)
    return reader

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
    AUTO_REPLICAS,
    BillingConfig,
    BtcpayConfig,
    CardsConfig,
    Config,
    InvoiceConfig,
    OperatorsConfig,
    ProvidersConfig,
    RedisConfig,
    Secret,
    StripeConfig,
    TestProviderConfig,
    WebConfig,
)
from payments.topup.providers import btcpay, stripe
from payments.web.app import build_app
from tests.support.fake_stripe_cards import STRIPE_KEY as STRIPE_KEY
from tests.support.fake_stripe_cards import STRIPE_WHSEC as STRIPE_WHSEC
from tests.support.fake_stripe_cards import CardsApi

BTCPAY_KEY = "btcpay-api-key"
BTCPAY_WHSEC = "btcpay-webhook-secret"
BTCPAY_STORE = "StoreAbc123"
LINK_SECRET = "link-secret-for-tests"
NO_SELLER = InvoiceConfig()  # the default [invoice] section
QUIET_CARDS = CardsConfig(poll_seconds=0)  # no card worker: a test runs the card work itself


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
    cards: CardsConfig = QUIET_CARDS,
    operators: tuple[str, ...] = (),
    wait_replicas: int = AUTO_REPLICAS,
    wait_timeout_ms: int = 1000,
    billing: BillingConfig = BillingConfig(),  # noqa: B008 (immutable)
    **web_options: Any,
) -> Config:
    redis = RedisConfig(redis_url, wait_replicas=wait_replicas, wait_timeout_ms=wait_timeout_ms)
    return Config(
        billing=billing,
        redis=redis,
        invoice=invoice,
        cards=cards,
        operators=OperatorsConfig(operators),
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
    cards: CardsConfig = QUIET_CARDS,
    operators: tuple[str, ...] = (),
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
        cards=cards,
        operators=operators,
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
class FakeStripe(CardsApi):
    """Stripe's API as far as we use it: Checkout Sessions here, saved cards in ``CardsApi``."""

    requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self.create)
        app.router.add_get("/c/pay/{id}", self.page)
        self.add_card_routes(app)
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
        if form.get("mode") == "setup":
            return await self.replayed(request, form, self.create_setup)
        required = (
            "mode", "success_url", "cancel_url", "line_items[0][price_data][currency]",
            "line_items[0][price_data][unit_amount]", "line_items[0][quantity]",
        )  # fmt: skip
        missing = [k for k in required if not form.get(k)]
        if missing or form["mode"] != "payment":
            return web.json_response({"error": {"message": f"missing {missing}"}}, status=400)
        if form.get("customer") and form["customer"] not in self.customers:
            return web.json_response({"error": {"message": "No such customer"}}, status=400)
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
            "mode": "payment",
            "customer": form.get("customer"),
            "payment_intent": None,
            "saves_card": form.get("payment_intent_data[setup_future_usage]") == "off_session",
        }
        self.sessions[session_id] = session
        return web.json_response(session)

    def create_setup(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("customer") not in self.customers or not form.get("success_url"):
            return 400, {"error": {"message": "setup mode needs a customer and success_url"}}
        session = self.setup_session(form, self.base)
        self.sessions[session["id"]] = session
        return 200, session

    async def page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return web.Response(status=404)
        return web.Response(text=f"Stripe checkout for {session['amount_total']} cents")

    def completed_event(self, session_id: str, card: str = "4242424242424242") -> bytes:
        """The user paid on the session's page with ``card``: its PaymentIntent exists now
        (the card saved to the customer when the session asked for it)."""
        found = self.sessions[session_id]
        if found["payment_intent"] is None:
            customer = found["customer"] if found["saves_card"] else None
            found["payment_intent"] = self.paid_intent(
                customer, found["amount_total"], found["currency"], card
            )
        public = {k: v for k, v in found.items() if k != "saves_card"}
        session = {**public, "payment_status": "paid", "status": "complete"}
        event = {
            "id": f"evt_{secrets.token_hex(8)}",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": session},
        }
        return json.dumps(event).encode()

    async def pay(
        self, session_id: str, http: aiohttp.ClientSession, card: str = "4242424242424242"
    ) -> int:
        """The user paid: Stripe posts the signed event to the webhook endpoint."""
        body = self.completed_event(session_id, card)
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

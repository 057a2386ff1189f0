"""The saved-card half of the local Stripe fake (``webfakes.FakeStripe`` mixes it in).

It speaks the shapes of Stripe's API as documented: Customers, Checkout
Sessions in setup mode with a hosted page where a card number is typed,
SetupIntents, PaymentMethods (with a ``fingerprint``: the same number, the
same fingerprint), off-session PaymentIntents (``off_session=true``,
``confirm=true``) with the documented test cards' outcomes, Refunds, and
Disputes; ``Idempotency-Key`` replays the first answer (a different request
under the same key is a 400 ``idempotency_error``). Events are kept and
posted, signed, to the webhook endpoint when a test delivers them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any

import aiohttp
from aiohttp import web

from payments.topup.providers.stripe import signature_header

STRIPE_KEY = "sk_test_fake_key"
STRIPE_WHSEC = "whsec_test_secret"

# Stripe's test cards (docs "Testing"): number -> (brand, what an off-session charge does).
TEST_CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", "succeeded"),
    "5555555555554444": ("mastercard", "succeeded"),
    "4000000000000002": ("visa", "generic_decline"),
    "4000000000009995": ("visa", "insufficient_funds"),
    "4000002760003184": ("visa", "authentication_required"),
    "4000000000000341": ("visa", "generic_decline"),  # attaches; every charge is declined
}
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}


def _id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(10)}"


@dataclass
class CardsApi:
    """State and handlers of the card endpoints."""

    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # Checkout Sessions
    webhook_url: str = ""
    base: str = ""
    api_key: str = STRIPE_KEY
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)  # payment method -> card number
    setup_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    events: list[bytes] = field(default_factory=list)  # every event made, in order
    undelivered: list[bytes] = field(default_factory=list)
    charge_calls: int = 0  # POST /v1/payment_intents received (replays included)

    def add_card_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/customers", self.create_customer)
        app.router.add_get("/v1/payment_methods/{id}", self.get_method)
        app.router.add_post("/v1/payment_methods/{id}/detach", self.detach)
        app.router.add_get("/v1/setup_intents/{id}", self.get_setup_intent)
        app.router.add_get("/v1/payment_intents", self.list_intents)
        app.router.add_get("/v1/payment_intents/{id}", self.get_intent)
        app.router.add_post("/v1/payment_intents", self.create_intent)
        app.router.add_post("/v1/refunds", self.create_refund)
        app.router.add_get("/c/setup/{id}", self.setup_page)
        app.router.add_post("/c/setup/{id}", self.setup_submit)

    # --- plumbing --------------------------------------------------------------------

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def replayed(self, request: web.Request, form: dict[str, str], make: Any) -> web.Response:
        """Answer once per Idempotency-Key: the first answer again for the same request."""
        key = request.headers.get("Idempotency-Key", "")
        signature = json.dumps([request.path, form], sort_keys=True)
        if key and key in self.answers:
            seen, status, body = self.answers[key]
            if seen != signature:
                error = {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests "
                    "can only be used with the same parameters they were first used with.",
                }
                return web.json_response({"error": error}, status=400)
            return web.json_response(body, status=status)
        status, body = make(form)
        if key:
            self.answers[key] = (signature, status, body)
        return web.json_response(body, status=status)

    def event(self, kind: str, found: dict[str, Any]) -> bytes:
        body = json.dumps({
            "id": _id("evt"), "object": "event", "type": kind, "created": int(time.time()),
            "data": {"object": found},
        }).encode()  # fmt: skip
        self.events.append(body)
        self.undelivered.append(body)
        return body

    async def deliver(self, http: aiohttp.ClientSession) -> list[int]:
        """Post every event not delivered yet, in order; their HTTP statuses."""
        sending, self.undelivered = self.undelivered, []
        return [await self.post_event(body, http) for body in sending]

    async def post_event(self, body: bytes, http: aiohttp.ClientSession) -> int:
        """Post one event, signed as Stripe signs it (also a replay of an old one)."""
        headers = {
            "Stripe-Signature": signature_header(STRIPE_WHSEC, body, int(time.time())),
            "Content-Type": "application/json",
        }
        async with http.post(self.webhook_url, data=body, headers=headers) as response:
            return response.status

    # --- customers and cards ---------------------------------------------------------

    async def create_customer(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return web.json_response({"error": {"type": "authentication_error"}}, status=401)
        form = {k: str(v) for k, v in (await request.post()).items()}

        def make(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
            customer_id, jid = _id("cus"), form.get("metadata[jid]", "")
            found = {"id": customer_id, "object": "customer", "metadata": {"jid": jid}}
            self.customers[customer_id] = found
            return 200, found

        return await self.replayed(request, form, make)

    def new_method(self, number: str, customer: str = "", exp: tuple[int, int] = (12, 2034)) -> str:
        brand, _ = TEST_CARDS.get(number, ("visa", "succeeded"))
        card = {
            "brand": brand, "last4": number[-4:], "exp_month": exp[0], "exp_year": exp[1],
            "fingerprint": hashlib.sha256(number.encode()).hexdigest()[:16],
        }  # fmt: skip
        method_id = _id("pm")
        self.methods[method_id] = {"id": method_id, "object": "payment_method", "type": "card",
                                   "customer": customer or None, "card": card}  # fmt: skip
        self.numbers[method_id] = number
        return method_id

    async def get_method(self, request: web.Request) -> web.Response:
        found = self.methods.get(request.match_info["id"])
        if not self.authorized(request) or found is None:
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=404)
        return web.json_response(found)

    async def detach(self, request: web.Request) -> web.Response:
        found = self.methods.get(request.match_info["id"])
        if not self.authorized(request) or found is None:
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=404)
        found["customer"] = None
        return web.json_response(found)

    async def get_setup_intent(self, request: web.Request) -> web.Response:
        found = self.setup_intents.get(request.match_info["id"])
        if not self.authorized(request) or found is None:
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=404)
        return web.json_response(found)

    # --- Checkout in setup mode: the hosted page --------------------------------------

    def setup_session(self, form: dict[str, str], base: str) -> dict[str, Any]:
        session_id = _id("cs")
        return {
            "id": session_id, "object": "checkout.session", "mode": "setup",
            "url": f"{base}/c/setup/{session_id}", "customer": form.get("customer"),
            "metadata": {"jid": form.get("metadata[jid]", "")},
            "setup_intent_metadata": {"jid": form.get("setup_intent_data[metadata][jid]", "")},
            "success_url": form["success_url"], "cancel_url": form["cancel_url"],
            "status": "open", "payment_status": "no_payment_required", "setup_intent": None,
        }  # fmt: skip

    async def setup_page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None or session.get("mode") != "setup":
            return web.Response(status=404)
        page = (
            "<!doctype html><html><head><title>Stripe: save a card</title></head><body>"
            f"<h1>Save a card</h1><form method='post' action='{escape(session['url'])}'>"
            "<label>Card number <input name='number' id='number'></label>"
            "<label>Expiry <input name='exp' id='exp' value='12/34'></label>"
            "<button type='submit' id='save'>Save card</button></form></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def setup_submit(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        form = await request.post()
        if session is None or session["status"] != "open":
            return web.Response(status=404)
        number = str(form.get("number", "")).replace(" ", "")
        month, _, year = str(form.get("exp", "12/34")).partition("/")
        self.complete_setup(session, number, (int(month), 2000 + int(year)))
        raise web.HTTPSeeOther(session["success_url"])

    def complete_setup(
        self, session: dict[str, Any], number: str, exp: tuple[int, int] = (12, 2034)
    ) -> str:
        """The holder typed a card on the setup page: the card is attached to the customer,
        the SetupIntent succeeded, two events are made. The payment method's id."""
        customer = str(session["customer"])
        method = self.new_method(number, customer, exp)
        intent = {"id": _id("seti"), "object": "setup_intent", "status": "succeeded",
                  "customer": customer, "payment_method": method,
                  "metadata": session["setup_intent_metadata"]}  # fmt: skip
        self.setup_intents[intent["id"]] = intent
        session.update(status="complete", setup_intent=intent["id"])
        public = {k: v for k, v in session.items() if k != "setup_intent_metadata"}
        self.event("checkout.session.completed", public)
        self.event("setup_intent.succeeded", intent)
        return method

    # --- off-session charges ---------------------------------------------------------

    async def create_intent(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return web.json_response({"error": {"type": "authentication_error"}}, status=401)
        self.charge_calls += 1
        form = {k: str(v) for k, v in (await request.post()).items()}
        return await self.replayed(request, form, self.charge)

    def charge(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        method = self.methods.get(form.get("payment_method", ""))
        if method is None or method["customer"] != form.get("customer"):
            error = {"type": "invalid_request_error", "message": "No such PaymentMethod"}
            return 400, {"error": error}
        _, outcome = TEST_CARDS.get(self.numbers[method["id"]], ("visa", "succeeded"))
        metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        intent = {
            "id": _id("pi"), "object": "payment_intent", "amount": int(form["amount"]),
            "amount_received": 0, "currency": form["currency"], "customer": form["customer"],
            "payment_method": method["id"], "metadata": metadata, "status": "succeeded",
            "latest_charge": _id("ch"), "last_payment_error": None,
        }  # fmt: skip
        self.intents[intent["id"]] = intent
        if outcome == "succeeded":
            intent["amount_received"] = intent["amount"]
            self.event("payment_intent.succeeded", intent)
            return 200, intent
        return 402, self.declined(intent, outcome)

    def declined(self, intent: dict[str, Any], outcome: str) -> dict[str, Any]:
        sca = outcome == "authentication_required"
        code = "authentication_required" if sca else "card_declined"
        error = {"type": "card_error", "code": code, "decline_code": outcome,
                 "message": DECLINE_MESSAGES[outcome]}  # fmt: skip
        intent.update(status="requires_payment_method", last_payment_error=error)
        self.event("payment_intent.payment_failed", intent)
        return {"error": {**error, "payment_intent": intent}}

    async def get_intent(self, request: web.Request) -> web.Response:
        found = self.intents.get(request.match_info["id"])
        if not self.authorized(request) or found is None:
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=404)
        return web.json_response(found)

    async def list_intents(self, request: web.Request) -> web.Response:
        customer = request.query.get("customer")
        found = [i for i in self.intents.values() if i["customer"] == customer]
        return web.json_response({"object": "list", "data": found[::-1], "has_more": False})

    def paid_intent(self, customer: str | None, amount: int, currency: str, number: str) -> str:
        """A payment made on a Checkout page (a top-up): its PaymentIntent's id."""
        method, intent_id = self.new_method(number, customer or ""), _id("pi")
        self.intents[intent_id] = {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": currency, "customer": customer,
            "payment_method": method, "metadata": {}, "status": "succeeded",
        }  # fmt: skip
        return intent_id

    # --- refunds and disputes --------------------------------------------------------

    async def create_refund(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return web.json_response({"error": {"type": "authentication_error"}}, status=401)
        form = {k: str(v) for k, v in (await request.post()).items()}
        return await self.replayed(request, form, self.refund)

    def refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(form.get("payment_intent", ""))
        amount = int(form.get("amount", "0"))
        if intent is None or intent["status"] != "succeeded":
            return 400, {"error": {"type": "invalid_request_error", "message": "No such payment"}}
        if intent.get("disputed") or self.refunded(intent) + amount > intent["amount_received"]:
            error = {
                "type": "invalid_request_error",
                "code": "charge_already_refunded",
                "message": "Refund amount is greater than the unrefunded amount.",
            }
            return 400, {"error": error}  # fmt: skip
        ref = form.get("metadata[accountbot_ref]", "")
        refund = {"id": _id("re"), "object": "refund", "amount": amount, "status": "succeeded",
                  "payment_intent": intent["id"], "metadata": {"accountbot_ref": ref}}  # fmt: skip
        self.refunds[refund["id"]] = refund
        self.event("charge.refunded", self.charge_object(intent))
        return 200, refund

    def refunded(self, intent: dict[str, Any]) -> int:
        mine = (r for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        return sum(r["amount"] for r in mine)

    def charge_object(self, intent: dict[str, Any]) -> dict[str, Any]:
        refunded = self.refunded(intent)
        return {
            "id": intent.get("latest_charge") or _id("ch"), "object": "charge",
            "payment_intent": intent["id"], "amount": intent["amount_received"],
            "amount_refunded": refunded, "refunded": refunded == intent["amount_received"],
            "currency": intent["currency"],
        }  # fmt: skip

    def dashboard_refund(self, payment_intent: str, amount: int) -> bytes:
        """An operator refunds in Stripe's dashboard: the charge.refunded event."""
        intent = self.intents[payment_intent]
        self.refunds[_id("re")] = {"amount": amount, "payment_intent": payment_intent}
        return self.event("charge.refunded", self.charge_object(intent))

    def dispute(self, payment_intent: str, reason: str = "fraudulent") -> tuple[str, bytes]:
        """The holder disputes a payment: charge.dispute.created."""
        intent = self.intents[payment_intent]
        intent["disputed"] = True
        dispute = {
            "id": _id("dp"), "object": "dispute", "amount": intent["amount_received"],
            "currency": intent["currency"], "payment_intent": payment_intent,
            "charge": intent.get("latest_charge"), "reason": reason, "status": "needs_response",
        }  # fmt: skip
        self.disputes[dispute["id"]] = dispute
        return str(dispute["id"]), self.event("charge.dispute.created", dispute)

    def close_dispute(self, dispute_id: str, won: bool) -> bytes:
        dispute = self.disputes[dispute_id]
        dispute["status"] = "won" if won else "lost"
        return self.event("charge.dispute.closed", dict(dispute))

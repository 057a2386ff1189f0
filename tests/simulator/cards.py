"""The simulated card provider: customers, saved cards that pay or decline as their number
says, off-session charges idempotent by key, refunds, disputes, and the events it sends.

It keeps what the outside world knows (every charge it made, every refund, every
dispute) for the oracle to hold the books against, and fails now and then like
a network does: before a charge (nothing made) or after it (made, the answer lost).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from payments.money import Money
from payments.topup.providers.base import Checkout, ProviderError
from payments.topup.providers.cards import (
    CardDetails,
    CardEvent,
    ChargeOutcome,
    ChargeStatus,
    ChargeSucceeded,
    DisputeClosed,
    DisputeOpened,
    OffSessionCharge,
    PaymentRefunded,
    RefundFailed,
    SetupRequest,
)

# number -> what an off-session charge of it does ("" succeeds)
NUMBERS = {
    "4242": "",
    "4444": "",
    "1881": "",
    "9995": "insufficient_funds",
    "0002": "generic_decline",
    "3184": "authentication_required",
}
LOST = 0.04  # of calls whose answer is lost (half before the provider acts, half after)


@dataclass
class SimCharge:
    key: str
    jid: str
    amount: Money
    purpose: str
    payment_intent: str
    outcome: ChargeOutcome
    at: datetime  # world time it was made
    refunded: Money
    disputed: bool = False


@dataclass
class SimCards:
    rng: random.Random
    clock: Callable[[], datetime]
    say: Callable[[str], None] = print
    name: str = "stripe"
    methods: dict[str, tuple[str, str]] = field(default_factory=dict)  # pm -> (number, customer)
    charges: dict[str, SimCharge] = field(default_factory=dict)  # by idempotency key
    intents: dict[str, SimCharge] = field(default_factory=dict)  # by payment intent
    refund_keys: dict[str, str] = field(default_factory=dict)  # key -> refund id
    disputes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # dp -> (pi, closed)
    pending: list[CardEvent] = field(default_factory=list)  # events not delivered yet
    delivered: list[CardEvent] = field(default_factory=list)
    counter: int = 0

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_sim{self.counter}"

    def _lose(self, where: str) -> None:
        if self.rng.random() < LOST / 2:
            raise ProviderError(f"simulated network failure {where}")

    # --- the CardProvider interface ------------------------------------------------------

    async def create_customer(self, jid: str) -> str:
        self._lose("before creating a customer")
        return f"cus_{jid}"

    async def start_setup(self, request: SetupRequest) -> Checkout:
        return Checkout(self._id("cs"), "https://sim/setup")

    def new_card(self, number: str, customer: str) -> str:
        method = self._id("pm")
        self.methods[method] = (number, customer)
        return method

    async def card(self, payment_method: str) -> CardDetails:
        number, customer = self.methods[payment_method]
        return CardDetails(payment_method, "visa", number, 12, 2040, f"fp-{number}", customer)

    async def setup_method(self, setup_intent: str) -> str:
        raise ProviderError("the simulator saves cards by payment method")

    async def payment_method_of(self, payment_intent: str) -> str:
        raise ProviderError("the simulator saves cards by payment method")

    async def charge(self, request: OffSessionCharge) -> ChargeOutcome:
        self._lose("before the charge")
        made = self.charges.get(request.key)
        if made is not None:
            if made.amount != request.amount or made.jid != request.jid:
                raise ProviderError("idempotency_error: the same key, another request")
            return made.outcome
        made = self._make(request)
        said = f"{made.outcome.status.value} {made.payment_intent}"
        self.say(f"provider charges {request.jid} {request.amount} ({request.purpose}): {said}")
        self._lose("after the charge")
        return made.outcome

    def _make(self, request: OffSessionCharge) -> SimCharge:
        code = NUMBERS[self.methods[request.payment_method][0]]
        pi = self._id("pi")
        status = ChargeStatus.SUCCEEDED
        if code:
            sca = code == "authentication_required"
            status = ChargeStatus.ACTION_REQUIRED if sca else ChargeStatus.DECLINED
        outcome = ChargeOutcome(status, pi, code)
        zero = Money.zero(request.amount.currency)
        made = SimCharge(request.key, request.jid, request.amount, request.purpose, pi, outcome,
                         self.clock(), zero)  # fmt: skip
        self.charges[request.key] = self.intents[pi] = made
        if status is ChargeStatus.SUCCEEDED:
            self.pending.append(ChargeSucceeded(
                self._id("evt"), request.jid, pi, request.amount, request.key,
                request.payment_method, request.purpose,
            ))  # fmt: skip
        return made

    async def find_charge(self, customer: str, key: str) -> ChargeOutcome | None:
        made = self.charges.get(key)
        return None if made is None else made.outcome

    async def refund(self, payment_intent: str, amount: Money, key: str) -> str:
        self._lose("before the refund")
        if key in self.refund_keys:
            return self.refund_keys[key]
        made = self.intents[payment_intent]
        if made.disputed or made.refunded + amount > made.amount:
            raise RefundFailed("simulated: more than is left of the payment")
        self.refund_keys[key] = self._refunded(made, amount)
        self._lose("after the refund")
        return self.refund_keys[key]

    def _refunded(self, made: SimCharge, amount: Money) -> str:
        made.refunded += amount
        self.pending.append(PaymentRefunded(self._id("evt"), made.payment_intent, made.refunded))
        return self._id("re")

    async def detach(self, payment_method: str) -> None:
        return None

    def parse_event(self, body: bytes) -> CardEvent | None:
        return None  # the simulator hands events over as objects

    # --- what the provider does by itself -------------------------------------------------

    def paid(self) -> list[SimCharge]:
        return [c for c in self.intents.values() if c.outcome.status is ChargeStatus.SUCCEEDED]

    def dashboard_refund(self, made: SimCharge, amount: Money) -> None:
        if not made.disputed and made.refunded + amount <= made.amount:
            self._refunded(made, amount)

    def open_dispute(self, made: SimCharge) -> None:
        if made.disputed or made.refunded.units:
            return
        made.disputed = True
        dispute = self._id("dp")
        self.disputes[dispute] = (made.payment_intent, False)
        self.pending.append(DisputeOpened(self._id("evt"), dispute, made.payment_intent,
                                          made.amount, "fraudulent"))  # fmt: skip

    def close_dispute(self, dispute: str, won: bool) -> None:
        pi, closed = self.disputes[dispute]
        if closed:
            return
        self.disputes[dispute] = (pi, True)
        amount = self.intents[pi].amount
        self.pending.append(DisputeClosed(self._id("evt"), dispute, pi, amount, won))

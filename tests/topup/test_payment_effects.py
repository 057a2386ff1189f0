"""One webhook request does everything a payment should: credit, settle, unfreeze, activate.

The rules are the billing cycle's (``flows.credit_account``); these tests
show that a provider's delivery, over real HTTP into the real web service,
applies them with the deployment's policy, in the same request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from payments.accounts.records import AccountKind, FreezeKind
from payments.billing.freezes import Froze, freeze_unpaid
from payments.billing.renewal import Renewed, renew_account
from payments.clock import utcnow
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.topup.checkout import PendingPayment
from tests.support.billing import basic_plan, cycle_of, kinds, paid_account, usd
from tests.support.webfakes import (
    btcpay_event,
    btcpay_headers,
    running_service,
    stripe_event,
    stripe_headers,
)

A = "alice@localhost"


@pytest.fixture
async def base(real_store: Store, redis_url: str) -> AsyncIterator[str]:
    unused = "http://127.0.0.1:9"  # the provider APIs are not called by webhooks
    async with running_service(redis_url, stripe_base=unused, btcpay_base=unused) as (url, _):
        yield url


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status


async def test_a_stripe_payment_of_the_activation_amount_activates_the_trial(
    real_store: Store, base: str
) -> None:
    await basic_plan(real_store, "10")
    await real_store.accounts.register_trial(A, utcnow() - timedelta(days=3), 30)
    body = json.dumps(stripe_event(A, 2000)).encode()  # $20.00: the activation amount
    assert await post(f"{base}/webhooks/stripe", body, stripe_headers(body)) == 200
    account = await real_store.accounts.get(A)
    assert account is not None and account.kind is AccountKind.PAID and account.plan == "basic"
    payment, charge = await real_store.ledger.entries(A)
    assert payment.kind is EntryKind.PAYMENT and payment.amount == usd("20")
    assert charge.kind is EntryKind.CHARGE and charge.amount < Money(0)  # the first month
    assert (await real_store.ledger.balances(A)).prepaid == usd("20") + charge.amount
    assert await kinds(real_store, A) == ["payment_received", "plan_activated"]  # in order


async def test_a_btcpay_payment_to_a_frozen_account_settles_its_invoice_and_unfreezes_it(
    real_store: Store, base: str
) -> None:
    await basic_plan(real_store, "10")
    start = utcnow() - timedelta(days=45)
    await paid_account(real_store, A, start, "20")  # $10 left after the first month
    await real_store.ledger.debit(A, usd("7"), reason="spent", kind=EntryKind.DEBIT)
    cycle = cycle_of(real_store)
    account = await real_store.accounts.get(A)
    assert account is not None and account.next_renewal_at is not None
    due = account.next_renewal_at
    assert (await renew_account(cycle, A, due)).result is Renewed.INVOICED
    assert await freeze_unpaid(cycle, A, due + timedelta(days=7)) is Froze.FROZEN
    frozen = await real_store.accounts.get(A)
    assert frozen is not None and frozen.freezes == {FreezeKind.BILLING}

    pending = PendingPayment("btcpay", "InvFrozen", A, Money.whole(10), utcnow())
    await real_store.payments_in.record(pending)
    body = json.dumps(btcpay_event("InvFrozen")).encode()
    assert await post(f"{base}/webhooks/btcpay", body, btcpay_headers(body)) == 200

    account = await real_store.accounts.get(A)
    assert account is not None and not account.frozen
    assert await real_store.billing.open_invoices(A) == []
    assert (await real_store.ledger.balances(A)).prepaid == usd("3")  # 3 + 10 - 10 due
    assert await real_store.ledger.check(A) == []
    assert (await kinds(real_store, A))[-3:] == ["payment_received", "invoice_paid", "unfrozen"]

"""Helpers of the tests of accounts counting in two currencies (USD, the default, and CAD)."""

from __future__ import annotations

from datetime import datetime

from payments.billing.cycle import Cycle, default_policy
from payments.billing.payment import CreditOutcome, credit_account
from payments.ledger.records import Balance, EntryKind
from payments.money import Money, parse_money
from payments.stores import Store
from tests.support.billing import T0

POLICY = default_policy("USD", "CAD")


def cad(amount: str) -> Money:
    return parse_money(amount, "CAD")


def usd(amount: str) -> Money:
    return parse_money(amount, "USD")


def cycle_of(store: Store, actor: str = "chore:test") -> Cycle:
    return Cycle(store, POLICY, actor)


async def priced_catalog(store: Store) -> None:
    """basic: $10 / CA$13; usonly: $5 and no CAD price; sms100: $3 / CA$4."""
    await store.plans.put(
        "basic", at=T0, prices=[usd("10"), cad("13")], name="Basic", allowances={"sms": 10}
    )
    await store.plans.put("usonly", at=T0, price=usd("5"), name="US only")
    await store.packs.put(
        "sms100", at=T0, resource="sms", quantity=100, prices=[usd("3"), cad("4")]
    )


async def pay(
    store: Store,
    jid: str,
    amount: Money,
    at: datetime = T0,
    ref: str = "",
    *,
    voucher: bool = False,
) -> CreditOutcome:
    return await credit_account(
        store,
        jid,
        amount,
        reason="top-up",
        kind=EntryKind.VOUCHER if voucher else EntryKind.PAYMENT,
        balance=Balance.VOUCHER if voucher else Balance.PREPAID,
        ref=ref,
        at=at,
        policy=POLICY,
    )

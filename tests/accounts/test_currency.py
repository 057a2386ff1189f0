"""Accounts counting in their own currency: chosen before the first money, fixed by it, and
every amount of the account in it (plans, packs, renewals, leaves, vouchers, payments).

The bodies run on fakeredis and on the real redis-server.
"""

from __future__ import annotations

import pytest

from payments.accounts.currency import CurrencySet, UnknownCurrency, choose_currency, parse_currency
from payments.billing.choice import UnknownPlan, choose_plan
from payments.billing.renewal import Renewed, renew_account
from payments.codes import VOUCHER_CODES
from payments.config import UsageConfig
from payments.errors import NotAllowed, WrongCurrency
from payments.groups import flow as group_flows
from payments.groups.flow import GroupFlow
from payments.groups.rules import JoinRefusal, LeafRefused
from payments.money import Money
from payments.stores import Store
from payments.topup.flow import create_vouchers, receive_payment, redeem_voucher
from payments.topup.providers.base import PaymentEvent, WebhookRefused
from payments.topup.vouchers import VoucherBatch
from payments.usage import flow as metering
from payments.usage.flow import Meter
from tests.support.billing import T0, days
from tests.support.currencies import POLICY, cad, cycle_of, pay, priced_catalog, usd

ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"


async def test_an_account_counts_in_the_default_until_it_chooses_and_money_fixes_it(
    store: Store,
) -> None:
    await store.accounts.register_trial(ALICE, T0, 30)
    assert await store.currencies.of(ALICE) == "USD"
    assert await choose_currency(store, ALICE, "CAD") is CurrencySet.SET
    assert await choose_currency(store, ALICE, "CAD") is CurrencySet.ALREADY
    account = await store.accounts.get(ALICE)
    assert account is not None and account.currency == "CAD"
    await pay(store, ALICE, cad("5"))
    assert (await store.ledger.balances(ALICE)).prepaid == cad("5")
    with pytest.raises(NotAllowed, match="counts in CAD since money arrived"):
        await choose_currency(store, ALICE, "USD")
    with pytest.raises(WrongCurrency, match="counts in CAD"):
        await pay(store, ALICE, usd("5"))
    assert (await store.ledger.balances(ALICE)).prepaid == cad("5")
    assert await store.ledger.check(ALICE) == []
    with pytest.raises(UnknownCurrency, match="USD, CAD"):
        parse_currency("EUR", POLICY.currencies)


async def test_the_first_money_sets_the_currency_whatever_was_chosen(store: Store) -> None:
    await store.accounts.register_trial(ALICE, T0, 30)
    await choose_currency(store, ALICE, "CAD")
    await pay(store, ALICE, usd("5"))  # a top-up link paid in USD before the choice
    assert await store.currencies.of(ALICE) == "USD"
    assert (await store.ledger.balances(ALICE)).total == usd("5")


async def test_a_jid_without_an_account_takes_the_default_currency_only(store: Store) -> None:
    with pytest.raises(WrongCurrency):
        await store.ledger.credit(BOB, cad("5"), reason="x")
    assert await store.redis.dbsize() == 0
    await store.ledger.credit(BOB, usd("5"), reason="x")
    assert (await store.ledger.balances(BOB)).total == usd("5")


async def test_a_cad_account_activates_and_renews_at_its_cad_price(store: Store) -> None:
    await priced_catalog(store)
    await store.accounts.register_trial(ALICE, T0, 30)
    await choose_currency(store, ALICE, "CAD")
    outcome = await pay(store, ALICE, cad("30"))
    assert outcome.settlement.activated
    assert (await store.ledger.balances(ALICE)).prepaid == cad("17")
    snapshot = await store.billing.current_snapshot(ALICE)
    assert snapshot is not None and snapshot.price == cad("13")
    renewed = await renew_account(cycle_of(store), ALICE, T0 + days(31))
    assert renewed.result is Renewed.RENEWED and renewed.charged == cad("13")
    [latest, first] = await store.billing.invoices(ALICE)
    assert latest.total == cad("13") and first.total == cad("13")
    assert (await store.ledger.balances(ALICE)).prepaid == cad("4")
    assert await store.ledger.check(ALICE) == []


async def test_a_plan_without_a_price_in_the_currency_is_not_offered(store: Store) -> None:
    await priced_catalog(store)
    await store.accounts.register_trial(ALICE, T0, 30)
    await choose_currency(store, ALICE, "CAD")
    assert [p.id for p in await store.plans.offered("CAD")] == ["basic"]
    assert [p.id for p in await store.plans.offered("USD")] == ["usonly", "basic"]
    with pytest.raises(UnknownPlan):
        await choose_plan(cycle_of(store), ALICE, "usonly", T0)
    chosen = await choose_plan(cycle_of(store), ALICE, "basic", T0)
    assert chosen.plan.price == cad("13")


async def test_packs_are_bought_at_the_accounts_price(store: Store) -> None:
    await priced_catalog(store)
    meter = Meter(store, UsageConfig(), ALICE)
    for jid, currency, paid in ((ALICE, "CAD", cad("4")), (BOB, "USD", usd("3"))):
        await store.accounts.register_trial(jid, T0, 30)
        await choose_currency(store, jid, currency)
        await pay(store, jid, Money.whole(10, currency))
        bought = await metering.buy_pack(meter, jid, "sms100", T0, actor=jid)
        assert bought.bought.voucher + bought.bought.prepaid == paid
        assert await store.ledger.check(jid) == []


async def test_a_main_pays_only_for_leaves_of_its_currency(store: Store) -> None:
    await priced_catalog(store)
    await store.accounts.register_trial(ALICE, T0, 30)
    await choose_currency(store, ALICE, "CAD")
    assert (await pay(store, ALICE, cad("40"))).settlement.activated
    flow = GroupFlow(store, POLICY, "test")
    # Bob's money was in USD (spent on nothing yet, kept: a leaf may hold none anyway).
    await store.accounts.register_trial(BOB, T0, 30)
    await pay(store, BOB, usd("5"))
    await store.ledger.debit(BOB, usd("5"), reason="refunded")
    with pytest.raises(LeafRefused) as refused:
        await group_flows.join(flow, ALICE, BOB, T0 + days(1))
    assert refused.value.reason is JoinRefusal.CURRENCY
    assert not await group_flows.invite_jid(flow, ALICE, BOB, T0 + days(1))
    # Carol never had money: she joins and counts in CAD from then on.
    await store.accounts.register_trial(CAROL, T0, 30)
    joined = await group_flows.join(flow, ALICE, CAROL, T0 + days(1))
    assert joined.price is not None and joined.price.amount.currency == "CAD"
    assert await store.currencies.of(CAROL) == "CAD"
    snapshot = await store.billing.current_snapshot(CAROL)
    assert snapshot is not None and snapshot.price == cad("13")
    renewed = await renew_account(cycle_of(store), ALICE, T0 + days(31))
    assert [line.amount for line, _ in renewed.lines] == [cad("13"), cad("13")]
    # A payment Carol started before (in USD) is refused: a leaf counts in its main's currency.
    event = PaymentEvent("stripe:cs_usd", "cs_usd", CAROL, usd("20"))
    with pytest.raises(WebhookRefused, match="mismatch"):
        await receive_payment(store, event, "stripe", POLICY, now=T0 + days(2))
    for jid in (ALICE, BOB, CAROL):
        assert await store.ledger.check(jid) == []


async def test_a_voucher_in_another_currency_is_refused_unclaimed_once_money_arrived(
    store: Store,
) -> None:
    batch = VoucherBatch("cad", cad("10"), 2, T0, "test")
    first, second = await create_vouchers(store, batch)
    await store.accounts.register_trial(ALICE, T0, 30)
    await pay(store, ALICE, usd("1"))
    with pytest.raises(WrongCurrency, match="counts in USD"):
        await redeem_voucher(store, ALICE, first, now=T0, attempts_per_hour=10, policy=POLICY)
    assert (await store.vouchers.get(first))["redeemed_by"] == ""
    # Bob never had money: a CAD voucher is his first money, and his account counts in CAD.
    await store.accounts.register_trial(BOB, T0, 30)
    shown = VOUCHER_CODES.display(second)
    done = await redeem_voucher(store, BOB, shown, now=T0, attempts_per_hour=10, policy=POLICY)
    assert done.balance == cad("10") and await store.currencies.of(BOB) == "CAD"


async def test_a_payment_in_another_currency_than_the_accounts_is_refused(store: Store) -> None:
    await store.accounts.register_trial(ALICE, T0, 30)
    await pay(store, ALICE, usd("1"))
    event = PaymentEvent("stripe:cs_cad", "cs_cad", ALICE, cad("20"))
    with pytest.raises(WebhookRefused, match="mismatch"):
        await receive_payment(store, event, "stripe", POLICY, now=T0)
    assert (await store.ledger.balances(ALICE)).total == usd("1")
    # The first money of an account sets its currency, whatever the default.
    await store.accounts.register_trial(BOB, T0, 30)
    event = PaymentEvent("stripe:cs_cad2", "cs_cad2", BOB, cad("20"))
    received = await receive_payment(store, event, "stripe", POLICY, now=T0)
    assert received.applied and (await store.ledger.balances(BOB)).total == cad("20")

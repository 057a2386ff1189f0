"""Payments in: top-ups paid at a provider, and voucher codes.

``receive_payment`` is the one place a provider's completed payment becomes
money: it resolves the account and amount (from the event, or from what was
recorded when the payment was created), credits through
``flows.credit_account`` with the provider's id as idempotency key, and
queues the "payment received" notification. ``redeem_voucher`` is the
same for a voucher code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payments.accounts.records import AccountKind
from payments.billing.payment import CreditOutcome, credit_account
from payments.cards.records import CardPayment
from payments.clock import utcnow
from payments.codes import VOUCHER_CODES, CodeRefused
from payments.config import BillingConfig, Config, ConfigError
from payments.errors import WrongCurrency
from payments.ledger.records import Applied, Balance, EntryKind
from payments.money import InvalidAmount, Money, format_money, parse_money
from payments.notices import Notice
from payments.referrals.flow import payment_arrived
from payments.stores import Store
from payments.topup import texts
from payments.topup.providers.amounts import payable
from payments.topup.providers.base import PaymentEvent, Refusal, WebhookRefused
from payments.topup.vouchers import Claim, Redeemed, VoucherBatch, check_batch


@dataclass(frozen=True, slots=True)
class Received:
    jid: str
    amount: Money
    applied: bool  # False: this payment had already been credited


def topup_amount(text: str, config: Config) -> Money:
    """An amount typed on the top-up page or after ``topup``, within the configured bounds,
    in ``config``'s currency (``Config.in_currency``: the account's)."""
    currency = config.billing.currency
    return check_topup(parse_money(text, currency, maximum=config.billing.max_amount), config)


def check_topup(amount: Money, config: Config) -> Money:
    """``amount`` when one payment may be of it; InvalidAmount saying why not otherwise (the
    bounds are the same numbers in every currency)."""
    config = config.in_currency(amount.currency)
    if amount > config.billing.max_amount:
        raise InvalidAmount(
            f"the most accepted at once is {format_money(config.billing.max_amount)}"
        )
    if amount < config.web.min_amount:
        raise InvalidAmount(f"the least accepted is {format_money(config.web.min_amount)}")
    if not payable(amount):
        raise InvalidAmount("payments are in whole cents: at most 2 decimals")
    return amount


def topup_presets(config: Config) -> list[Money]:
    """The preset amounts of the top-up page, checked against the bounds."""
    presets = []
    for text in config.web.presets:
        try:
            presets.append(topup_amount(text, config))
        except InvalidAmount as exc:
            raise ConfigError(f"[web] presets: {text!r}: {exc}") from None
    return presets


async def resolve(store: Store, event: PaymentEvent, provider: str) -> tuple[str, Money]:
    """The account and amount of a completed payment; the recorded ones when the event has none.
    A payment in another currency than its account counts in is refused (MISMATCH), unless it
    is the account's first money (which sets the account's currency)."""
    if event.jid is not None and event.amount is not None:
        jid, amount = event.jid, event.amount
    else:
        pending = await store.payments_in.get(provider, event.provider_id)
        if pending is None:
            raise WebhookRefused(Refusal.UNKNOWN_PAYMENT, f"{provider} {event.provider_id}")
        jid, amount = pending.jid, pending.amount
    currency = await store.currencies.of(jid)
    if amount.currency != currency and await store.ledger.currency_fixed(jid):
        raise WebhookRefused(
            Refusal.MISMATCH, f"currency {amount.currency}, {jid} counts in {currency}"
        )
    return jid, amount


async def receive_payment(
    store: Store,
    event: PaymentEvent,
    provider: str,
    policy: BillingConfig,
    *,
    now: datetime | None = None,
) -> Received:
    """Credit a verified, completed payment once, and tell the user.

    Safe to call any number of times, concurrently: the credit applies once
    per ``event.ref`` and the notification is queued once per ref. A retry
    after a crash between the two completes what is missing.
    """
    jid, amount = await resolve(store, event, provider)
    if event.payment_intent:  # a card payment: refunds and disputes find it (before the credit)
        await store.cards.note_owner(event.payment_intent, jid)

    async def receipt(_applied: Applied) -> Notice:
        return await _receipt(store, jid, event.ref, amount, policy)

    outcome = await credit_account(
        store,
        jid,
        amount,
        reason=f"payment via {provider}",
        kind=EntryKind.PAYMENT,
        ref=event.ref,
        actor=f"provider:{provider}",
        balance=Balance.PREPAID,
        at=now,
        policy=policy,
        receipt=receipt,
    )
    await store.payments_in.mark_credited(provider, event.provider_id, now or utcnow())
    if event.payment_intent:
        await _keep_card_payment(store, jid, event, amount, now or utcnow())
    await payment_arrived(store, jid, now or utcnow())  # a referrer's reward, later
    return Received(jid, amount, outcome.applied.applied)


async def operator_credit(
    store: Store,
    jid: str,
    amount: Money,
    *,
    reason: str,
    actor: str,
    policy: BillingConfig,
    ref: str = "",
    balance: Balance = Balance.PREPAID,
    at: datetime | None = None,
) -> CreditOutcome:
    """An operator adds money (the CLI, the bot's ``admin credit``, the account page): the
    same credit as a payment's, once per ``ref``, and the user told where they stand and
    the next step, once per credit."""

    async def receipt(applied: Applied) -> Notice:
        key = f"credit:{jid}:{applied.entry_id}"
        return await _receipt(store, jid, key, amount, policy, by_operator=True)

    return await credit_account(
        store,
        jid,
        amount,
        reason=reason,
        kind=EntryKind.CREDIT,
        ref=ref,
        actor=actor,
        balance=balance,
        at=at,
        policy=policy,
        receipt=receipt,
    )


async def _keep_card_payment(
    store: Store, jid: str, event: PaymentEvent, amount: Money, at: datetime
) -> None:
    """A top-up paid by card may be refunded (``admin refund``) or disputed: keep it."""
    zero = Money.zero(amount.currency)
    paid = CardPayment(event.payment_intent, amount, zero, zero, at, "card", event.ref)
    await store.card_returns.record_payment(jid, paid)


async def _receipt(
    store: Store,
    jid: str,
    ref: str,
    amount: Money,
    policy: BillingConfig,
    *,
    by_operator: bool = False,
) -> Notice:
    """The credit's receipt, with the balance it left (before what follows it)."""
    balances = await store.ledger.balances(jid)
    account = await store.accounts.get(jid)
    closed = account is not None and account.closed
    main = await store.groups.main_of(jid) if account and account.kind is AccountKind.LEAF else ""
    trial = account is not None and account.kind is AccountKind.TRIAL and not closed
    activation = policy.in_currency(balances.prepaid.currency).activation_amount
    lacks = activation - balances.prepaid if trial else None
    return texts.payment_received(
        jid,
        ref,
        amount,
        balances.total,
        kept_by=main,
        closed=closed,
        to_activate=lacks,
        by_operator=by_operator,
    )


async def activation_hint(
    store: Store, jid: str, amount: Money | None, policy: BillingConfig
) -> str:
    """For a trial, what a top-up of ``amount`` (any, when None) does to its activation;
    '' for any other account."""
    account = await store.accounts.get(jid)
    if account is None or account.closed or account.kind is not AccountKind.TRIAL:
        return ""
    holds = (await store.ledger.balances(jid)).prepaid
    activation = policy.in_currency(holds.currency).activation_amount
    return texts.activation_hint(holds, activation, amount)


async def topup_refusal(store: Store, jid: str) -> str:
    """Why ``jid`` may not start a top-up now ('' when it may): a leaf is paid for by its
    main, a closed account is reopened first (money already paid is always credited)."""
    account = await store.accounts.get(jid)
    if account is not None and account.closed:
        return texts.topup_refused("", closed=True)
    if account is not None and account.kind is AccountKind.LEAF:
        return texts.topup_refused(await store.groups.main_of(jid), closed=False)
    return ""


async def create_vouchers(store: Store, batch: VoucherBatch) -> list[str]:
    """Write a batch and its codes; returns the codes (canonical form)."""
    check_batch(batch.name, batch.count)
    return await store.vouchers.create_batch(batch, VOUCHER_CODES.new)


async def redeem_voucher(
    store: Store,
    jid: str,
    text: str,
    *,
    now: datetime,
    attempts_per_hour: int,
    policy: BillingConfig,
) -> Redeemed:
    """Add a code's amount to ``jid``'s voucher balance, once; CodeRefused otherwise."""
    if await store.code_attempts.failures(jid) >= attempts_per_hour:
        raise CodeRefused
    code, amount, claim, batch = await _claim(store, jid, text, now)
    if claim is Claim.OTHER_CURRENCY:
        raise WrongCurrency(jid, amount.currency, await store.currencies.of(jid))
    outcome = await credit_account(
        store,
        jid,
        amount,
        reason=f"voucher {batch}",
        kind=EntryKind.VOUCHER,
        ref=f"voucher:{code}",
        actor=jid,
        balance=Balance.VOUCHER,
        at=now,
        policy=policy,
    )
    if claim is Claim.MINE and not outcome.applied.applied:
        await store.code_attempts.record_failure(jid)  # redeemed before: nothing to repair
        raise CodeRefused
    balances = await store.ledger.balances(jid)
    return Redeemed(amount, balances.voucher, balances.total)


async def _claim(store: Store, jid: str, text: str, now: datetime) -> tuple[str, Money, Claim, str]:
    code = VOUCHER_CODES.normalise(text)
    if code is not None:
        currency, first = await store.currencies.of(jid), not await store.ledger.currency_fixed(jid)
        claim, amount, batch = await store.vouchers.claim(
            code, jid, now, currency=currency, any_currency=first
        )
        if amount is not None:
            return code, amount, claim, batch
    await store.code_attempts.record_failure(jid)
    raise CodeRefused

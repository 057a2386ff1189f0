"""What the account page shows, gathered from each capability's read functions (no HTML).

Every figure comes from the function the bot's commands use for it (balances
from the ledger, ``month_usage``, ``members_of``, the invoices of the billing
store, ``charge_lines`` for the next renewal), so the page and the chat agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from payments.accounts.records import Account, AccountKind, FreezeKind, FreezeRecord
from payments.billing.cycle import Cycle
from payments.billing.renewal import charge_lines
from payments.billing.rules import ChargeLine, Invoice, Subscriber, total_of
from payments.catalog.records import Pack, Plan
from payments.clock import months_back
from payments.config import Config
from payments.groups.flow import Member, members_of, payer_of
from payments.ledger.months import LedgerMonth, ledger_months
from payments.ledger.records import Balances
from payments.money import Money
from payments.stores import Store
from payments.topup.providers.amounts import payable_ceiling
from payments.usage.credits import AutoBuy, Grant, by_expiry
from payments.usage.flow import Meter, MonthView, month_usage
from payments.usage.history import UsageMonth, usage_by_month
from payments.web.account_cards import SavedCards, saved_cards

MONTHS_SHOWN: Final = 12
INVOICES_SHOWN: Final = 24


class NextStep(StrEnum):
    """The one thing that unfreezes a frozen account."""

    PAY = "pay"  # the balance covers an open invoice: pay it from the balance
    TOP_UP = "top_up"  # add the money that is missing
    CONTACT = "contact"  # an operator's freeze: only an operator lifts it


@dataclass(frozen=True, slots=True)
class FrozenState:
    reasons: tuple[str, ...]  # each freeze's recorded reason
    step: NextStep
    amount: Money  # to pay (PAY) or to top up (TOP_UP); zero for CONTACT


@dataclass(frozen=True, slots=True)
class Renewal:
    at: datetime
    amount: Money  # what it would charge: the plan (or the one chosen), leaves, packs
    lines: tuple[ChargeLine, ...]


@dataclass(frozen=True, slots=True)
class MemberUsage:
    member: Member
    usage: MonthView


@dataclass(frozen=True)
class AccountView:
    account: Account
    number: str
    balances: Balances
    plan: Plan | None  # the plan in force (a leaf's too), None for a trial
    plan_price: Money  # the price its snapshot holds
    next_plan: Plan | None  # chosen with `plan ID`, from the next renewal
    renewal: Renewal | None  # a paid account's next renewal
    frozen: FrozenState | None
    open_invoices: tuple[tuple[str, Money], ...]  # (period, due), smallest first
    owed: Money
    month: MonthView
    months: tuple[str, ...]  # the last MONTHS_SHOWN, oldest first
    usage_year: tuple[UsageMonth, ...]
    ledger_year: tuple[LedgerMonth, ...]
    grants: tuple[Grant, ...]  # live, earliest expiry first
    autobuys: tuple[AutoBuy, ...]
    packs: tuple[Pack, ...]
    plans: tuple[Plan, ...]
    invoices: tuple[Invoice, ...]  # newest first
    members: tuple[MemberUsage, ...]  # a main's accounts (itself first); () otherwise
    paid_by: tuple[str, str]  # a leaf's main and its number
    resources: tuple[str, ...]
    cards: SavedCards | None = None  # a payer's saved cards, when the service saves cards

    @property
    def jid(self) -> str:
        return self.account.jid

    @property
    def is_leaf(self) -> bool:
        return self.account.kind is AccountKind.LEAF

    @property
    def payer(self) -> bool:
        """Holds a balance it may spend and top up: not a leaf, not closed."""
        return not self.is_leaf and not self.account.closed

    @property
    def payable(self) -> Money:
        return covered(self.open_invoices, self.balances.total)


async def gather(store: Store, config: Config, jid: str, now: datetime) -> AccountView | None:
    """Everything the page shows of ``jid`` as of ``now``; None when it is no account.

    The reads run one after another: run at once they open a connection each and
    are no faster (the time goes into decoding, not waiting; ``make bench``)."""
    sub = await store.billing.subscriber(jid)
    if sub is None:
        return None
    account = sub.account
    config = config.in_currency(account.currency)  # amounts in the account's currency
    meter = Meter(store, config.usage, jid)
    months = months_back(now, MONTHS_SHOWN)
    balances = await store.ledger.balances(jid)
    owing = tuple(await store.billing.open_invoices(jid))
    freezes = await store.freezes.records(jid)
    plan = await _plans(store, config, sub)
    return AccountView(
        account=account,
        number=await store.numbers.of(jid),
        balances=balances,
        plan=plan.plan,
        plan_price=plan.price,
        next_plan=plan.next_plan,
        renewal=plan.renewal,
        frozen=frozen_state(freezes, owing, balances, account, config) if freezes else None,
        open_invoices=owing,
        owed=sum((due for _, due in owing), Money.zero(account.currency)),
        month=await month_usage(meter, jid, now),
        months=tuple(months),
        usage_year=tuple(await usage_by_month(store, jid, months, config.usage.resources)),
        ledger_year=tuple(await ledger_months(store.ledger, jid, months)),
        grants=tuple(g for g in by_expiry(await store.credits.grants(jid)) if g.live(now)),
        autobuys=tuple(await store.credits.autobuys(jid)),
        packs=tuple(await store.packs.offered(account.currency)),
        plans=tuple(await store.plans.offered(account.currency)),
        invoices=tuple(await store.billing.invoices(jid, count=INVOICES_SHOWN)),
        members=await _members(store, meter, sub, now),
        paid_by=await _paid_by(store, sub),
        resources=config.usage.resources,
        cards=await saved_cards(store, config, jid, now) if _pays(account) else None,
    )


def _pays(account: Account) -> bool:
    return account.kind is not AccountKind.LEAF and not account.closed


@dataclass(frozen=True, slots=True)
class _PlanState:
    plan: Plan | None
    price: Money
    next_plan: Plan | None
    renewal: Renewal | None


async def _plans(store: Store, config: Config, sub: Subscriber) -> _PlanState:
    """The plan in force (its snapshot's price), the one chosen next, the next renewal."""
    account = sub.account
    snapshot = await store.billing.current_snapshot(account.jid)
    plan = await store.plans.get(snapshot.plan) if snapshot is not None else None
    price = snapshot.price if snapshot is not None else Money.zero(account.currency)
    next_plan = account.next_plan
    chosen = await store.plans.get_in(next_plan, account.currency) if next_plan else None
    if account.kind is not AccountKind.PAID or account.next_renewal_at is None:
        return _PlanState(plan, price, chosen, None)
    lines = tuple(await charge_lines(Cycle(store, config.billing, account.jid), sub))
    renewal = Renewal(account.next_renewal_at, total_of(lines, account.currency), lines)
    return _PlanState(plan, price, chosen, renewal)


async def _members(
    store: Store, meter: Meter, sub: Subscriber, now: datetime
) -> tuple[MemberUsage, ...]:
    """A main's accounts with this month's usage (itself first); () for anyone else."""
    if sub.account.kind is not AccountKind.PAID:
        return ()
    members = await members_of(store, sub.account.jid)
    if len(members) < 2:  # pays for itself only: the page shows its own usage already
        return ()
    return tuple([MemberUsage(m, await month_usage(meter, m.jid, now)) for m in members])


async def _paid_by(store: Store, sub: Subscriber) -> tuple[str, str]:
    if sub.account.kind is not AccountKind.LEAF:
        return ("", "")
    return await payer_of(store, sub.account.jid)


def frozen_state(
    records: Mapping[FreezeKind, FreezeRecord],
    open_invoices: Sequence[tuple[str, Money]],
    balances: Balances,
    account: Account,
    config: Config,
) -> FrozenState:
    """Why a frozen account is frozen, and the one step that lifts it (the rules of
    ``billing.texts.frozen_line``, which the bot says on every interaction)."""
    reasons = tuple(record.why for _, record in sorted(records.items()))
    zero = Money.zero(balances.total.currency)
    if any(kind is not FreezeKind.BILLING for kind in records):
        return FrozenState(reasons, NextStep.CONTACT, zero)
    owed = sum((due for _, due in open_invoices), zero)
    if owed.units and covered(open_invoices, balances.total) == owed:
        return FrozenState(reasons, NextStep.PAY, owed)
    if owed.units:  # a top-up settles the open invoices by itself, then unfreezes
        return FrozenState(reasons, NextStep.TOP_UP, top_up_for(owed - balances.total, config))
    if account.kind is AccountKind.TRIAL:  # ended: activated once prepaid holds the amount
        missing = config.billing.activation_amount - balances.prepaid
        return FrozenState(reasons, NextStep.TOP_UP, top_up_for(missing, config))
    return FrozenState(reasons, NextStep.TOP_UP, config.web.min_amount)  # any credit lifts it


def covered(open_invoices: Sequence[tuple[str, Money]], balance: Money) -> Money:
    """What ``pay`` would settle now: open invoices in full, smallest first, while the
    balance covers them (the order and rule of ``billing.payment.settle_invoices``)."""
    paid = Money.zero(balance.currency)
    for _, due in open_invoices:
        if paid + due > balance:
            break
        paid += due
    return paid


def top_up_for(missing: Money, config: Config) -> Money:
    """A top-up that covers ``missing``: payable, within the page's bounds."""
    amount = max(payable_ceiling(missing), config.web.min_amount)
    return min(amount, config.billing.max_amount)

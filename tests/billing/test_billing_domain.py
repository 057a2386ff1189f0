"""The billing rules without Redis: dates, charge splits, decisions, records, notices."""

from __future__ import annotations

import calendar
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.accounts.records import Account, AccountKind, AccountStatus, FreezeKind, FreezeRecord
from payments.billing import texts as notices
from payments.billing.rules import (
    BillingState,
    Invoice,
    InvoiceStatus,
    RenewAction,
    closure_warning_due,
    grace_ends,
    next_renewal,
    reminder_number,
    renewal_action,
    renewal_dates,
    split_charge,
)
from payments.catalog.records import BadOffer, check_offer_id, parse_allowance
from payments.clock import add_months, month_of
from payments.errors import CorruptRecord
from payments.money import Money
from payments.notices import NoticeKind
from tests.support.billing import POLICY, T0, usd

PAID = Account(
    "a@x",
    AccountKind.PAID,
    AccountStatus.ACTIVE,
    T0,
    "basic",
    next_renewal_at=T0 + timedelta(days=31),
)


def account(**changes: Any) -> Account:
    """A paid account on basic, due to renew 31 days after T0, with ``changes``."""
    return replace(PAID, **changes)


# --- dates -----------------------------------------------------------------------


def test_renewal_day_is_kept_and_clamped_to_short_months() -> None:
    jan31 = datetime(2027, 1, 31, 8, 30, tzinfo=UTC)
    dates = [jan31]
    for _ in range(4):
        dates.append(next_renewal(dates[-1], 31))
    assert [d.date().isoformat() for d in dates] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
    ]
    assert all(d.time() == jan31.time() for d in dates)
    assert add_months(datetime(2028, 1, 30, tzinfo=UTC), 1, 30).day == 29  # leap year
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1, 15) == datetime(
        2027, 1, 15, tzinfo=UTC
    )


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    months=st.integers(min_value=1, max_value=40),
)
def test_renewals_are_monthly_with_one_period_each(start: datetime, months: int) -> None:
    day, dates = start.day, [start]
    for _ in range(months):
        dates.append(next_renewal(dates[-1], day))
    periods = [month_of(d) for d in dates]
    assert len(set(periods)) == len(periods)  # one renewal per month, never two
    for before, after in itertools.pairwise(dates):
        assert timedelta(days=28) <= after - before <= timedelta(days=31)
        assert after.day == min(day, calendar.monthrange(after.year, after.month)[1])


# --- charges ----------------------------------------------------------------------


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    voucher=st.integers(min_value=0, max_value=10**9),
    prepaid=st.integers(min_value=0, max_value=10**9),
)
def test_split_takes_voucher_first_then_prepaid_and_owes_the_rest(
    amount: int, voucher: int, prepaid: int
) -> None:
    split = split_charge(Money(amount), Money(voucher), Money(prepaid))
    assert split.voucher + split.prepaid + split.due == Money(amount)
    assert split.voucher == Money(min(amount, voucher))
    assert split.prepaid <= Money(prepaid)
    assert split.due.units == max(0, amount - voucher - prepaid)
    if split.prepaid.units:
        assert split.voucher == Money(voucher)  # prepaid only once the voucher is empty


def test_split_examples() -> None:
    split = split_charge(usd("10"), usd("3"), usd("4"))
    assert (split.voucher, split.prepaid, split.due) == (usd("3"), usd("4"), usd("3"))
    assert split.paid == usd("7")


def test_a_due_renewal_bills_its_month_and_a_held_one_starts_a_new_cycle_now() -> None:
    billed = datetime(2026, 1, 31, 9, tzinfo=UTC)
    due = renewal_dates(BillingState(renewal_day=31), billed, billed + timedelta(hours=2))
    assert (due.period, due.following, due.renewal_day) == (
        "202601",
        datetime(2026, 2, 28, 9, tzinfo=UTC),
        None,
    )
    now = datetime(2026, 3, 17, 15, tzinfo=UTC)  # paid at last, after weeks frozen
    held = BillingState(renewal_day=31, renewal_held=billed)
    resumed = renewal_dates(held, billed, now)
    assert (resumed.period, resumed.following, resumed.renewal_day) == (
        "202603",
        datetime(2026, 4, 17, 15, tzinfo=UTC),
        17,
    )


# --- decisions ---------------------------------------------------------------------


def test_renewal_action() -> None:
    now = T0 + timedelta(days=40)
    assert renewal_action(None, now) is RenewAction.UNSCHEDULE
    assert renewal_action(account(kind=AccountKind.TRIAL), now) is RenewAction.UNSCHEDULE
    assert renewal_action(account(kind=AccountKind.LEAF), now) is RenewAction.UNSCHEDULE
    assert renewal_action(account(status=AccountStatus.CLOSED), now) is RenewAction.UNSCHEDULE
    assert renewal_action(account(), T0) is RenewAction.RESCHEDULE
    assert renewal_action(account(), now) is RenewAction.RENEW
    frozen = account(freezes=frozenset({FreezeKind.BILLING}))
    assert renewal_action(frozen, now) is RenewAction.RENEW  # renew.lua holds it at commit
    legal = account(freezes=frozenset({FreezeKind.LEGAL}))
    assert renewal_action(legal, now) is RenewAction.RENEW  # operator freezes still pay


def test_grace_reminders_and_closure_warning() -> None:
    assert grace_ends(T0, POLICY) == T0 + timedelta(days=7)
    assert reminder_number(T0, T0 + timedelta(days=6, hours=23), POLICY) == 0
    assert reminder_number(T0, T0 + timedelta(days=7), POLICY) == 1
    assert reminder_number(T0, T0 + timedelta(days=15), POLICY) == 2
    assert reminder_number(T0, T0 - timedelta(days=1), POLICY) == 0
    assert not closure_warning_due(T0, T0 + timedelta(days=82), POLICY)
    assert closure_warning_due(T0, T0 + timedelta(days=83), POLICY)


# --- records ------------------------------------------------------------------------


def test_freeze_record_round_trip_and_corruption() -> None:
    record = FreezeRecord(FreezeKind.LEGAL, "cli:root", T0, "court order", {"kind": "paid"})
    assert FreezeRecord.decode("legal", record.encode()) == record
    with pytest.raises(CorruptRecord):
        FreezeRecord.decode("legal", "{not json")
    with pytest.raises(CorruptRecord):
        FreezeRecord.decode("melted", record.encode())


def test_invoice_decodes_lines_main_first() -> None:
    fields = {
        "issued_at": T0.isoformat(),
        "total": "200000",
        "paid": "130000",
        "due": "70000",
        "status": "open",
        "line:z@x": "basic|100000|0|30000",
        "line:a@x": "basic|100000|50000|50000",
    }
    invoice = Invoice.decode("a@x", "202601", fields, "USD")
    assert invoice.status is InvoiceStatus.OPEN and invoice.open
    assert [(ln.member, ln.paid) for ln in invoice.lines] == [("a@x", usd("10")), ("z@x", usd("3"))]
    with pytest.raises(CorruptRecord):
        Invoice.decode("a@x", "202601", {**fields, "total": "ten"}, "USD")


def test_plan_ids_and_allowances() -> None:
    assert check_offer_id("basic-2", "plan") == "basic-2"
    for bad in ("", "Basic", "trial", "a" * 33, "bäsic", "a|b"):
        with pytest.raises(BadOffer):
            check_offer_id(bad, "plan")
    resources = ("voice_minutes", "sms", "mms")
    assert parse_allowance("sms=100", resources) == ("sms", 100)
    for bad in ("sms", "fax=3", "sms=-1", "sms=1.5"):
        with pytest.raises(BadOffer):
            parse_allowance(bad, resources)


# --- notices ------------------------------------------------------------------------


def test_notices_are_short_plain_text_with_formatted_amounts() -> None:
    invoice = Invoice(
        "a@x",
        "202605",
        T0,
        usd("20"),
        usd("7.5"),
        usd("12.5"),
        InvoiceStatus.OPEN,
        (),
    )
    failed = notices.renewal_failed("a@x", invoice, T0 + timedelta(days=7))
    assert "$12.50" in failed.body and "2026-01-12" in failed.body and "2026-05" in failed.body
    assert failed.kind is NoticeKind.RENEWAL_FAILED and failed.key == "renewal:a@x:202605"
    low = notices.low_balance("a@x", usd("10"), usd("2.125"), T0, "202601")
    assert "$2.13" in low.body and "$7.88" in low.body  # shown in cents
    for notice in (failed, low, notices.closed("a@x", "+15550100")):
        assert len(notice.body) < 300 and "\n" not in notice.body

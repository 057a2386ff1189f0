"""The account page's pieces without a server: links, form tokens, charts, the rules of
the frozen state and of paying, invoice numbers, the ledger by month, the form marks."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from payments import keys
from payments.accounts.records import Account, AccountKind, AccountStatus, FreezeKind, FreezeRecord
from payments.billing.numbering import invoice_number
from payments.config import Config, Secret, WebConfig
from payments.ledger.months import by_month
from payments.ledger.records import Balance, Balances, EntryKind, LedgerEntry
from payments.money import Money, plain_amount
from payments.stores import Store
from payments.topup.providers.amounts import payable_ceiling
from payments.web.account import ledger_text
from payments.web.account_view import NextStep, covered, frozen_state, top_up_for
from payments.web.charts import Bar, axis_top, bar_chart, nice_step
from payments.web.forms import digest, form_nonce, form_token
from payments.web.links import (
    AccountLink,
    BadLink,
    LinkProblem,
    TopupLink,
    account_url,
    read_account_link,
    read_link,
    sign_account_link,
    sign_link,
)
from payments.web.page_actions import Outcome
from tests.support import ROOT

SECRET = "secret"
NOW = 1_800_000_000
ALICE = "alice@example.org"
LINK = AccountLink(ALICE, NOW + 60, "session-one-1234")


def usd(units: int) -> Money:
    return Money(units)


# --- links ------------------------------------------------------------------------------


def test_an_account_link_reads_back_and_keeps_its_operator() -> None:
    token = sign_account_link(SECRET, AccountLink(ALICE, NOW + 60, "abc", "cli:root"))
    assert read_account_link(SECRET, token, NOW) == AccountLink(ALICE, NOW + 60, "abc", "cli:root")
    with pytest.raises(BadLink) as expired:
        read_account_link(SECRET, token, NOW + 60)
    assert expired.value.problem is LinkProblem.EXPIRED


def test_a_top_up_link_is_no_account_link_and_the_reverse() -> None:
    topup = sign_link(SECRET, TopupLink(ALICE, NOW + 60))
    account = sign_account_link(SECRET, LINK)
    for read, token in ((read_account_link, topup), (read_link, account)):
        with pytest.raises(BadLink) as refused:
            read(SECRET, token, NOW)
        assert refused.value.problem is LinkProblem.TAMPERED
    assert read_link(SECRET, topup, NOW).jid == ALICE


def test_every_account_link_has_its_own_session() -> None:
    config = Config(web=WebConfig(public_url="https://pay.example/", link_secret=Secret(SECRET)))
    at = datetime(2027, 1, 1, tzinfo=UTC)
    first, second = (account_url(config, ALICE, at) for _ in range(2))
    assert first.startswith("https://pay.example/account/")
    links = [read_account_link(SECRET, u.rsplit("/", 1)[1], NOW - 10**8) for u in (first, second)]
    assert links[0].session != links[1].session and links[0].expires_at == links[1].expires_at


# --- form tokens --------------------------------------------------------------------------


def test_a_form_token_works_for_its_link_and_action_only() -> None:
    token = form_token(SECRET, LINK, "buy:sms500")
    nonce = form_nonce(SECRET, LINK, "buy:sms500", token)
    assert nonce is not None and re.fullmatch(r"[A-Za-z0-9_-]{16}", nonce)
    others = [
        (SECRET, LINK, "buy:sms1000"),
        (SECRET, AccountLink(ALICE, NOW + 60, "session-two-5678"), "buy:sms500"),
        (SECRET, AccountLink("bob@example.org", NOW + 60, LINK.session), "buy:sms500"),
        (SECRET, AccountLink(ALICE, NOW + 60, LINK.session, "cli:root"), "buy:sms500"),
        ("another", LINK, "buy:sms500"),
    ]
    for secret, link, action in others:
        assert form_nonce(secret, link, action, token) is None
    for broken in ("", token.split(".")[0], "x." + token.split(".")[1], token + "0", "é.é"):
        assert form_nonce(SECRET, LINK, "buy:sms500", broken) is None
    assert form_token(SECRET, LINK, "pay") != form_token(SECRET, LINK, "pay")  # a nonce each


def test_a_confirmation_digest_changes_with_any_value() -> None:
    base = digest("credit", "20.00", "goodwill")
    assert base == digest("credit", "20.00", "goodwill")
    assert base != digest("credit", "20.01", "goodwill")
    assert base != digest("credit", "20.00goodwill", "")  # values cannot slide into each other


def test_an_outcome_is_kept_as_text_and_read_back() -> None:
    for outcome in (Outcome(True, "Paid invoice 2026-10: $10.00."), Outcome(False, "a|b")):
        assert Outcome.decode(outcome.encode()) == outcome
    assert Outcome.decode("") is None  # a form still running


# --- charts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "step"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (250, 500), (75_000, 100_000)]
)
def test_gridlines_fall_on_round_numbers(raw: int, step: int) -> None:
    assert nice_step(raw) == step


def test_the_axis_holds_the_largest_bar_on_a_round_top() -> None:
    assert axis_top(325, 1) == 400
    assert axis_top(350_000, 10_000) == 400_000  # $35.00 on an axis up to $40.00
    assert axis_top(0, 10_000) == 40_000


def test_a_chart_draws_one_bar_per_month_in_whole_units() -> None:
    bars = [Bar("Jan", 100, "100"), Bar("Feb", 0, "0"), Bar("Mar", 333, "333")]
    svg = bar_chart("c", "sms <used>", bars, str)
    assert svg.count("<rect") == 3 and 'role="img"' in svg and "sms &lt;used&gt;" in svg
    heights = [int(h) for h in re.findall(r'height="(\d+)"', svg)]
    assert heights == [39, 0, 131]  # of 158 units for an axis up to 400
    assert "Nothing yet" in bar_chart("d", "t", [Bar("Jan", 0, "0")], str)
    assert "." not in "".join(re.findall(r'(?:x|y|width|height)="([^"]+)"', svg))


# --- paying, the frozen state, top-ups ------------------------------------------------------


def test_pay_covers_open_invoices_smallest_first_while_the_balance_lasts() -> None:
    invoices = [("202601", usd(50_000)), ("202602", usd(100_000)), ("202603", usd(300_000))]
    assert covered(invoices, usd(160_000)) == usd(150_000)
    assert covered(invoices, usd(40_000)) == usd(0)
    assert covered(invoices, usd(450_000)) == usd(450_000)


def account(kind: AccountKind = AccountKind.PAID) -> Account:
    return Account(ALICE, kind, AccountStatus.ACTIVE, datetime(2026, 1, 1, tzinfo=UTC), "basic")


def record(kind: FreezeKind, why: str = "why") -> FreezeRecord:
    return FreezeRecord(kind, "chore", datetime(2026, 1, 1, tzinfo=UTC), why)


def balances(prepaid: int, voucher: int = 0) -> Balances:
    return Balances(usd(prepaid), usd(voucher), True)


def test_the_one_next_step_of_a_frozen_account() -> None:
    config = Config()
    billing = {FreezeKind.BILLING: record(FreezeKind.BILLING, "unpaid")}
    owed = [("202601", usd(100_000)), ("202602", usd(150_000))]
    pay = frozen_state(billing, owed, balances(200_000, 50_000), account(), config)
    assert (pay.step, pay.amount, pay.reasons) == (NextStep.PAY, usd(250_000), ("unpaid",))
    top = frozen_state(billing, owed, balances(100_000), account(), config)
    assert (top.step, top.amount) == (NextStep.TOP_UP, usd(150_000))
    small = frozen_state(billing, owed, balances(249_999), account(), config)
    assert (small.step, small.amount) == (NextStep.TOP_UP, usd(50_000))  # the least top-up
    trial = frozen_state(billing, [], balances(120_000), account(AccountKind.TRIAL), config)
    assert (trial.step, trial.amount) == (NextStep.TOP_UP, usd(80_000))  # to the activation
    both = {**billing, FreezeKind.LEGAL: record(FreezeKind.LEGAL, "court order")}
    contact = frozen_state(both, owed, balances(900_000), account(), config)
    assert (contact.step, contact.amount) == (NextStep.CONTACT, usd(0))


def test_a_top_up_is_rounded_up_to_a_payable_amount_within_the_bounds() -> None:
    config = Config()
    assert payable_ceiling(usd(123_401)) == usd(123_500)
    assert top_up_for(usd(123_401), config) == usd(123_500)
    assert top_up_for(usd(1), config) == config.web.min_amount
    assert top_up_for(usd(10**9), config) == config.billing.max_amount


# --- invoice numbers, the ledger by month, the CSV ------------------------------------------


def test_an_invoice_number_is_stable_and_differs_per_account_and_month() -> None:
    number = invoice_number("INV-", ALICE, "202611")
    assert number == invoice_number("INV-", ALICE, "202611")
    assert re.fullmatch(r"INV-202611-[0-9A-F]{12}", number)
    assert number != invoice_number("INV-", "bob@example.org", "202611")
    assert number[-12:] == invoice_number("INV-", ALICE, "202612")[-12:]


def entry(at: str, units: int, kind: EntryKind, ref: str = "", reason: str = "r") -> LedgerEntry:
    when = datetime.fromisoformat(at).replace(tzinfo=UTC)
    return LedgerEntry("0-1", usd(units), Balance.PREPAID, usd(0), kind, reason, ref, when, "a")


def test_the_ledger_by_month_adds_what_went_in_and_what_was_charged() -> None:
    entries = [
        entry("2026-01-31T23:59:59", 200_000, EntryKind.PAYMENT),
        entry("2026-02-01T00:00:00", -100_000, EntryKind.CHARGE),
        entry("2026-02-03T00:00:00", -30_000, EntryKind.CHARGE),
        entry("2026-02-04T00:00:00", 30_000, EntryKind.CREDIT, ref="refund:1-0"),  # given back
        entry("2026-02-05T00:00:00", 50_000, EntryKind.VOUCHER),
        entry("2026-02-06T00:00:00", 0, EntryKind.USAGE),
        entry("2026-02-07T00:00:00", -10_000, EntryKind.DEBIT),
        entry("2026-03-01T00:00:00", 1, EntryKind.PAYMENT),  # outside the months asked
    ]
    january, february = by_month(entries, ["202601", "202602"], "USD")
    assert (january.added, january.spent) == (usd(200_000), usd(0))
    assert (february.added, february.spent) == (usd(50_000), usd(100_000))
    assert len(february.entries) == 6 and len(february.money_entries) == 5


def test_the_csv_has_exact_amounts_and_quotes_formulas() -> None:
    text = ledger_text(
        [
            entry("2026-02-01T00:00:00", -33_333, EntryKind.CHARGE, reason="=cmd|' /C calc'!A0"),
            entry("2026-02-02T00:00:00", 250_000, EntryKind.PAYMENT, ref="+ref"),
        ]
    )
    header, charge, payment = csv.reader(io.StringIO(text))
    assert header == ["date", "amount", "currency", "balance", "after", "kind", "reason", "ref"]
    assert charge[:6] == [
        "2026-02-01T00:00:00+00:00",
        "-3.3333",
        "USD",
        "prepaid",
        "0.00",
        "charge",
    ]
    assert charge[6] == "'=cmd|' /C calc'!A0" and payment[7] == "'+ref"
    assert text.endswith("\r\n")
    assert plain_amount(usd(-33_333)) == "-3.3333" and plain_amount(usd(1_250)) == "0.125"


# --- the form marks, on fakeredis and on redis-server ---------------------------------------


async def test_a_form_is_taken_once_and_remembers_what_it_did(store: Store) -> None:
    forms = store.page_forms
    assert await forms.take(ALICE, "n" * 16, 60) is None
    assert await forms.take(ALICE, "n" * 16, 60) == ""  # taken, still running
    await forms.record(ALICE, "n" * 16, "ok|Paid.")
    assert await forms.take(ALICE, "n" * 16, 60) == "ok|Paid."
    assert await forms.outcome(ALICE, "n" * 16) == "ok|Paid."
    assert await forms.take("bob@example.org", "n" * 16, 60) is None  # per account
    assert 0 < await store.redis.ttl(f"payment-page_form_{'n' * 16}-{{{ALICE}}}") <= 60
    await forms.record(ALICE, "m" * 16, "ok|never taken")  # no mark: nothing is written
    assert await forms.outcome(ALICE, "m" * 16) is None


def test_the_form_mark_key_is_documented_as_built() -> None:
    documented = "`payment-page_form_{NONCE}-{JID}`"
    assert documented in (ROOT / "keys.md").read_text()
    assert keys.page_form("JID", "NONCE") == "payment-page_form_NONCE-{JID}"

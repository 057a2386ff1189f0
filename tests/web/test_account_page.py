"""The account page over real HTTP against a real redis-server: what it shows after a
generated year, its invoices and CSV, and its refusals (its forms:
tests/web/test_account_forms.py)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from payments.accounts.freeze_store import FreezeIf
from payments.accounts.records import FreezeKind, FreezeRecord
from payments.billing.numbering import invoice_number
from payments.clock import month_label, shift_month
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.web.links import AccountLink, TopupLink, sign_account_link, sign_link
from tests.support.account_site import SELLER, Site, account_site, read_page
from tests.support.billing import account_of
from tests.support.history import History, year_of_history
from tests.support.webfakes import LINK_SECRET

ALICE = "alice@example.org"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[Site]:
    async with account_site(real_store, redis_url) as running:
        yield running


@pytest.fixture
async def year(site: Site) -> History:
    return await year_of_history(site.store, site.config, ALICE, datetime.now(UTC))


def freeze_record(why: str, kind: FreezeKind = FreezeKind.BILLING) -> FreezeRecord:
    return FreezeRecord(kind, "test", datetime.now(UTC), why)


# --- what it shows ---------------------------------------------------------------------


async def test_the_page_shows_a_year_without_scripts_and_with_safe_headers(
    site: Site, year: History
) -> None:
    async with site.http.get(site.link(ALICE)) as response:
        assert response.status == 200
        headers, text = response.headers, await response.text()
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    page = read_page(text)
    assert page.scripts == 0 and text.count("<svg") == 4  # three resources and the spending
    assert page.by_id["balance-prepaid"] == "$0.00" and page.by_id["owed"] == "$35.00"
    assert page.by_id["renewal-amount"] == "$35.00"  # itself, two leaves and autobuy
    usage = page.tables["Usage by month"]
    assert usage[0] == ["Month", "voice_minutes", "sms", "mms"]
    assert [row[0] for row in usage[1:]] == [month_label(m) for m in year.months]
    spend = page.tables["Charged and added by month"]
    assert len(spend) == 13 and spend[1][1] == "$30.00"  # the first month: itself and 2 leaves
    invoices = page.tables["Invoices, newest first"]
    assert invoices[1] == [month_label(year.open_period), "open", "$35.00", "$35.00"]
    members = page.tables["Every account you pay for, with its cost and this month's usage"]
    assert [row[0].split()[0] for row in members[1:]] == [ALICE, *year.leaves]
    expiries = [row[3] for row in page.tables["Your credits by expiry"][1:]]
    assert expiries == sorted(expiries) and len(expiries) > 1
    assert page.form("buy", "Buy 500 sms for $5.00").fields["pack"] == "sms500"
    assert page.form("autobuy", "Turn autobuy of sms500 off").fields["state"] == "off"
    assert page.form("plan").fields["plan"] == "basic"
    assert "Top up $35.00" in text and "/topup/" in text  # the balance covers nothing


async def test_a_frozen_account_reads_why_and_the_one_step_that_lifts_it(
    site: Site, year: History
) -> None:
    await site.store.ledger.credit(ALICE, Money(100_000), reason="part", kind=EntryKind.CREDIT)
    await site.store.freezes.freeze(ALICE, freeze_record("unpaid renewal"), FreezeIf.ANY)
    _, text = await site.get(site.link(ALICE))
    assert "Your account is frozen" in text and "unpaid renewal" in text
    assert "A top-up of $25.00 pays what is owed and lifts it." in text  # $35.00 owed, $10.00 held

    await site.store.ledger.credit(ALICE, Money(250_000), reason="rest", kind=EntryKind.CREDIT)
    page = await site.page(site.link(ALICE))
    status, _, location = await site.submit(page.form("pay", "Pay $35.00 from your balance"))
    assert status == 303
    page = await site.page(location)
    assert "frozen-h" not in page.by_id and "owed" not in page.by_id
    assert not (await account_of(site.store, ALICE)).frozen

    violation = freeze_record("abuse reported", FreezeKind.VIOLATION)
    await site.store.freezes.freeze(ALICE, violation, FreezeIf.ANY)
    _, text = await site.get(site.link(ALICE))
    assert "Only an operator can lift this freeze" in text and "abuse reported" in text
    assert "/pay" not in text.split("Your account is frozen")[1].split("</section>")[0]


async def test_a_leaf_sees_who_pays_and_its_usage_but_no_money_actions(
    site: Site, year: History
) -> None:
    leaf = year.leaves[0]
    _, text = await site.get(site.link(leaf))
    page = read_page(text)
    assert f"paid for by {ALICE} (+15550100100)" in text
    assert "usage-sms" in page.by_id and "Usage by month" in page.tables
    assert not page.forms  # no plan, pack, pay or top-up: its main decides
    assert "credits-h" not in page.by_id and "/topup/" not in text


async def test_a_trial_sees_its_trial_and_may_choose_the_plan_it_will_start_on(
    site: Site, year: History
) -> None:
    bob = "bob@example.org"
    await site.store.accounts.register_trial(bob, datetime.now(UTC), 30)
    _, text = await site.get(site.link(bob))
    assert "Trial until" in text and "It starts when your account becomes paid." in text
    status, _, location = await site.submit(read_page(text).form("plan"), plan="plus")
    assert status == 303
    note = (await site.page(location)).by_id["note"]
    assert note == (
        "Plus ($20.00 a month) starts once your balance reaches $20.00."
        " You have $0.00: top up $20.00 more on this page."
    )
    assert (await account_of(site.store, bob)).next_plan == "plus"


# --- invoices and the ledger ------------------------------------------------------------


async def test_an_invoice_prints_seller_buyer_lines_totals_and_a_stable_number(
    site: Site, year: History
) -> None:
    period = year.open_period
    url = f"{site.link(ALICE)}/invoice/{period}"
    status, text = await site.get(url)
    assert status == 200
    page = read_page(text)
    number = invoice_number("INV-", ALICE, period)
    assert page.by_id["invoice-h"] == f"Invoice {number}"
    assert (await site.page(f"{site.link(ALICE)}/invoice/{period}")).by_id["invoice-h"] == (
        f"Invoice {number}"  # a new link, the same number
    )
    for line in (SELLER.seller, *SELLER.address, f"Tax ID: {SELLER.tax_id}", SELLER.tax_line):
        assert line in text
    assert ALICE in text and "+15550100100" in text
    lines = page.tables["Lines"]
    assert [row[1] for row in lines[1:]] == ["$10.00", "$10.00", "$10.00", "$5.00"]
    assert page.by_id["invoice-status"] == "Open" and page.by_id["invoice-due"] == "$35.00"
    assert "@media print" in text and "no-print" in text
    assert "Top up $35.00" in text  # open, and the balance covers nothing: top up
    paid = read_page(
        (await site.get(f"{site.link(ALICE)}/invoice/{shift_month(year.open_period, -1)}"))[1]
    )
    assert paid.by_id["invoice-status"].startswith("Paid") and not paid.forms
    for wrong in ("209901", "2026", "abcdef"):
        assert (await site.get(f"{site.link(ALICE)}/invoice/{wrong}"))[0] == 404


async def test_the_ledger_downloads_as_csv_every_entry_of_the_months(
    site: Site, year: History
) -> None:
    async with site.http.get(f"{site.link(ALICE)}/ledger.csv") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["date", "amount", "currency", "balance", "after", "kind", "reason", "ref"]
    entries = await site.store.ledger.entries(ALICE)
    assert len(rows) - 1 == len(entries)  # every entry of the twelve months, usage included
    assert sum(Decimal(r[1]) for r in rows[1:]) * 10_000 == sum(e.amount.units for e in entries)
    month = year.months[-2]
    async with site.http.get(f"{site.link(ALICE)}/ledger.csv?month={month_label(month)}") as r:
        some = list(csv.reader(io.StringIO(await r.text())))[1:]
    assert some and all(row[0].startswith(month_label(month)) for row in some)
    assert (await site.get(f"{site.link(ALICE)}/ledger.csv?month=1999-01"))[0] == 404


async def test_a_reason_that_looks_like_a_formula_is_quoted_in_the_csv(
    site: Site, year: History
) -> None:
    await site.store.ledger.credit(
        ALICE, Money(10_000), reason="=HYPERLINK(1)", kind=EntryKind.CREDIT
    )
    async with site.http.get(f"{site.link(ALICE)}/ledger.csv") as response:
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[-1][6] == "'=HYPERLINK(1)" and rows[-1][1] == "1.00"


# --- refusals: one page, whatever the reason ------------------------------------------------


async def test_expired_tampered_foreign_and_unknown_links_get_the_same_page(
    site: Site, year: History
) -> None:
    now = int(time.time())
    good = sign_account_link(LINK_SECRET, AccountLink(ALICE, now + 600, "s" * 16))
    payload, signature = good.split(".")
    other = sign_account_link(LINK_SECRET, AccountLink("mallory@example.org", now + 600, "x" * 16))
    tampered = f"{other.split('.')[0]}.{signature}"  # mallory's payload under alice's MAC
    tokens = [
        sign_account_link(LINK_SECRET, AccountLink(ALICE, now - 1, "s" * 16)),  # expired
        tampered,
        sign_link(LINK_SECRET, TopupLink(ALICE, now + 600)),  # a top-up link of alice
        sign_account_link("another secret", AccountLink(ALICE, now + 600, "s" * 16)),
        other,  # well signed, but mallory has no account
        payload,
        "garbage",
    ]
    answers = {await site.get(f"{site.base}/account/{t}") for t in tokens}
    answers |= {
        await site.get(f"{site.base}/account/{t}/invoice/{year.open_period}") for t in tokens
    }
    answers |= {await site.get(f"{site.base}/account/{t}/ledger.csv") for t in tokens}
    assert len(answers) == 1
    [(status, text)] = answers
    assert status == 404 and "This link does not work" in text and ALICE not in text
    assert (await site.get(f"{site.base}/account/{good}"))[0] == 200


async def test_an_account_link_is_no_top_up_link(site: Site, year: History) -> None:
    token = urlsplit(site.link(ALICE)).path.split("/")[2]
    status, text = await site.get(f"{site.base}/topup/{token}")
    assert status == 404 and "not valid" in text

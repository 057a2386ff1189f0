"""The account page in Debian's headless Chromium, on a phone and on a desktop, after a
generated year: laid out for each screen, charts drawn, keyboard-usable, no serious
accessibility violation (axe-core), a printable invoice.

With ``ACCOUNTBOT_SAVE_SCREENSHOTS=docs`` the screenshots are kept there (the ones in
docs/account-page.md come from this test).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from payments.accounts.freeze_store import FreezeIf, LiftIf
from payments.accounts.records import FreezeKind, FreezeRecord
from payments.stores import Store
from tests.support.accessibility import audit, serious
from tests.support.account_site import Site, account_site
from tests.support.chromium import DESKTOP, PHONE, Page, browser_page, png_size
from tests.support.history import History, year_of_history

ALICE = "alice@example.org"
SAVE_ENV = "ACCOUNTBOT_SAVE_SCREENSHOTS"  # a folder, e.g. docs
BESIDE = """(() => {
  const chart = document.querySelector('svg[aria-labelledby="chart-spend-title"]')
    .getBoundingClientRect();
  const table = document.querySelector('#year .beside:last-of-type table')
    .getBoundingClientRect();
  return table.left >= chart.right && table.top < chart.bottom;
})()"""


def keep(name: str, png: bytes) -> None:
    folder = os.environ.get(SAVE_ENV)
    if folder:
        (Path(folder) / name).write_bytes(png)


async def laid_out_for(page: Page, width: int) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    assert await page.evaluate("document.title") == "Your account"
    charts = await page.evaluate(
        "[...document.querySelectorAll('svg.chart')].map(s => s.querySelectorAll('rect').length)"
    )
    assert charts == [12, 12, 12, 12]  # three resources and the spending, a bar a month
    assert serious(await audit(page)) == []


async def keyboard_reaches_the_sections_and_forms(page: Page) -> None:
    await page.press_tab()
    first = await page.evaluate("document.activeElement.textContent")
    assert first == "Balance"  # the first link of the page's table of contents
    outline = "getComputedStyle(document.activeElement).outlineStyle"
    assert await page.evaluate(outline) != "none"  # the focus is visible
    seen = set()
    for _ in range(40):
        await page.press_tab()
        seen.add(await page.evaluate("document.activeElement.tagName"))
    assert {"A", "BUTTON", "INPUT"} <= seen


async def test_the_page_on_a_phone_reads_well_and_passes_axe(
    real_store: Store, redis_url: str, tmp_path: Path
) -> None:
    async with account_site(real_store, redis_url) as site:
        year = await year_of_history(site.store, site.config, ALICE, datetime.now(UTC))
        async with browser_page(tmp_path / "phone", PHONE) as page:
            await page.goto(site.link(ALICE))
            await laid_out_for(page, PHONE[0])
            top = await page.png()
            assert png_size(top) == PHONE
            keep("account-page-phone.png", top)
            await keyboard_reaches_the_sections_and_forms(page)
            await page.evaluate("document.getElementById('year').scrollIntoView()")
            keep("account-page-phone-year.png", await page.png())
            await frozen_on_a_phone(site, year, page)
            await page.goto(site.link(ALICE, operator="cli:operator"))
            assert serious(await audit(page)) == []
            assert await page.evaluate("document.getElementById('operator') !== null")


async def frozen_on_a_phone(site: Site, year: History, page: Page) -> None:
    record = FreezeRecord(FreezeKind.BILLING, "chore", datetime.now(UTC), "unpaid: $35.00 owed")
    await site.store.freezes.freeze(ALICE, record, FreezeIf.ANY)
    await page.goto(site.link(ALICE))
    alert = await page.evaluate("document.querySelector('section.alert').innerText")
    assert "Your account is frozen" in alert and "Top up $35.00" in alert
    assert serious(await audit(page)) == []
    keep("account-page-frozen.png", await page.png())
    await site.store.freezes.lift(ALICE, FreezeKind.BILLING, LiftIf.ANY)


async def test_the_page_on_a_desktop_puts_tables_beside_charts_and_prints_invoices(
    real_store: Store, redis_url: str, tmp_path: Path
) -> None:
    async with account_site(real_store, redis_url) as site:
        year = await year_of_history(site.store, site.config, ALICE, datetime.now(UTC))
        async with browser_page(tmp_path / "desktop", DESKTOP) as page:
            await page.goto(site.link(ALICE))
            await laid_out_for(page, DESKTOP[0])
            beside = await page.evaluate(BESIDE)
            assert beside  # the spending table stands beside its chart
            keep("account-page-desktop.png", await page.full_png())

            await page.goto(f"{site.link(ALICE)}/invoice/{year.open_period}")
            assert serious(await audit(page)) == []
            await page.media("print")
            for thing in ("a.button", "nav"):  # "Top up $35.00", "Back to your account"
                hidden = f"getComputedStyle(document.querySelector('{thing}')).display"
                assert await page.evaluate(hidden) == "none"  # not on paper
            keep("account-invoice.png", await page.full_png())
            pdf = await page.pdf()
            assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
            await page.media("screen")

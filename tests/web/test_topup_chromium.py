"""The top-up page in Debian's headless Chromium: renders on a phone and completes a payment."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from payments.money import Money
from payments.stores import Store
from payments.web.links import topup_url
from payments.web.state import CONFIG
from tests.support.chromium import PHONE, browser_page, png_size, screenshot
from tests.support.webfakes import running_service

ALICE = "alice@localhost"
# Set to a path (e.g. docs/topup-page.png) to keep the screenshot the test takes.
SAVE_ENV = "ACCOUNTBOT_SAVE_SCREENSHOT"


async def test_chromium_renders_the_page_on_a_phone_and_pays_with_the_test_provider(
    real_store: Store, redis_url: str, tmp_path: Path
) -> None:
    # Stripe and BTCPay are offered on the page (never called: the test pays with "test").
    unused = "http://127.0.0.1:9"
    async with running_service(redis_url, stripe_base=unused, btcpay_base=unused) as (_base, app):
        link = topup_url(app[CONFIG], ALICE, datetime.now(UTC), Money.whole(25))
        shot = tmp_path / "topup.png"
        await screenshot(link, shot, tmp_path / "profile-shot")
        assert png_size(shot.read_bytes()) == PHONE
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
        if os.environ.get(SAVE_ENV):
            shutil.copyfile(shot, os.environ[SAVE_ENV])

        async with browser_page(tmp_path / "profile-cdp") as page:
            await page.goto(link)
            assert await page.evaluate("document.title") == "Top up"
            # Laid out for the phone: nothing wider than the screen, the CSS applied.
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
            button = "getComputedStyle(document.querySelector('button')).backgroundColor"
            assert await page.evaluate(button) == "rgb(26, 95, 208)"
            assert await page.evaluate("document.querySelector('input[value=\"25.00\"]').checked")
            assert png_size(await page.png()) == PHONE
            # Choose the test provider and press the button, as a person would.
            await page.evaluate("document.querySelector('input[value=\"test\"]').click()")
            page.events.clear()
            await page.evaluate("document.querySelector('button[type=submit]').click()")
            await page.wait_event("Page.loadEventFired")
            assert await page.evaluate("location.pathname + location.search") == (
                "/topup/done?status=paid"
            )
            assert "Payment received" in await page.evaluate("document.body.innerText")

    assert (await real_store.ledger.balances(ALICE)).prepaid == Money.whole(25)
    [entry] = await real_store.ledger.entries(ALICE)
    assert entry.ref.startswith("test:") and entry.amount == Money.whole(25)

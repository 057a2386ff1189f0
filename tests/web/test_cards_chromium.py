"""Adding a card through the pages in Debian's headless Chromium: from the account page to
our card page, on to Stripe's (fake) setup page where the card number is typed, back to
us; Stripe's webhooks save the card, which pays what the frozen account owed at once."""

from __future__ import annotations

from pathlib import Path

from payments.accounts.records import FreezeKind
from payments.clock import utcnow
from payments.stores import Store
from payments.web.links import account_url
from tests.support.billing import usd
from tests.support.cards import card_site, paid_due
from tests.support.chromium import Page, browser_page

ALICE = "alice@example.org"


async def click(page: Page, selector: str) -> None:
    """Click as a person would, and wait for the page that follows to load."""
    page.events.clear()
    await page.evaluate(f"document.querySelector({selector!r}).click()")
    await page.wait_event("Page.loadEventFired")


async def test_a_card_added_through_the_pages_pays_and_unfreezes(
    real_store: Store, redis_url: str, tmp_path: Path
) -> None:
    async with card_site(redis_url, real_store) as site:
        now = utcnow().replace(microsecond=0)
        await paid_due(real_store, ALICE, now, price="10")
        await site.chores(now)  # the renewal: $10 owed
        await site.chores(now.replace(year=now.year + 1), "freeze")  # the grace is long over
        assert FreezeKind.BILLING in await real_store.freezes.records(ALICE)
        link = account_url(site.config, ALICE, now)
        async with browser_page(tmp_path / "profile") as page:
            await page.goto(link)
            assert "No card is saved." in await page.evaluate("document.body.innerText")
            await click(page, "#cards-section a.button")  # "Add a card"
            assert await page.evaluate("document.title") == "Add a card"
            await click(page, "button[type=submit]")  # off to Stripe's page
            assert await page.evaluate("document.title") == "Stripe: save a card"
            await page.evaluate("document.querySelector('#number').value = '4242 4242 4242 4242'")
            await click(page, "#save")
            assert await page.evaluate("location.pathname") == "/cards/done"
            assert await site.deliver() == [200, 200]  # Stripe's webhooks reach us
            await page.goto(link)
            text = await page.evaluate("document.body.innerText")
        assert "visa …4242, expires 12/34 (default)" in text
        assert "Your account is frozen" not in text
    assert await real_store.billing.owed(ALICE) == usd("0")
    assert await real_store.freezes.records(ALICE) == {}

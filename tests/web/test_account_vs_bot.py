"""The page and the bot agree: for the same account after a generated year, every figure
the page shows equals the one the bot's commands answer (through the bot's dispatcher,
over the same redis-server)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands import build_registry
from bot.commands.model import Reply, Table
from bot.dispatch import Dispatcher
from payments.clock import month_label, shift_month
from payments.stores import Store
from tests.support.account_site import account_site
from tests.support.history import year_of_history

ALICE = "alice@example.org"


def rows(reply: Reply | None) -> list[list[str]]:
    assert reply is not None and isinstance(reply.table, Table), reply
    return [list(row) for row in reply.table.rows]


async def test_every_figure_of_the_page_is_the_bots(real_store: Store, redis_url: str) -> None:
    async with account_site(real_store, redis_url) as site:
        year = await year_of_history(site.store, site.config, ALICE, datetime.now(UTC))
        bot = Dispatcher(build_registry(), site.store, site.config)
        page = await site.page(site.link(ALICE))

        balance = await bot.chat(ALICE, "balance")
        assert balance is not None
        assert f"Balance: {page.by_id['balance-prepaid']}" in balance.text
        assert f"Next renewal: {page.by_id['renewal-date']}." in balance.text
        assert "Basic (basic), $10.00 a month" in page.by_id["plan-now"]
        assert "Plan: Basic, $10.00 a month." in balance.text

        usage = await bot.chat(ALICE, "usage")
        assert usage is not None
        assert usage.table is not None
        said = usage.text.splitlines()[1:]
        for resource, line in zip((row[0] for row in usage.table.rows), said, strict=False):
            assert page.by_id[f"usage-{resource}"] == line

        invoices = rows(await bot.chat(ALICE, "invoices"))
        assert page.tables["Invoices, newest first"][1:] == invoices

        credits = rows(await bot.chat(ALICE, "credits"))
        assert page.tables["Your credits by expiry"][1:] == credits

        members = rows(await bot.chat(ALICE, "numbers"))
        shown = page.tables["Every account you pay for, with its cost and this month's usage"]
        assert [
            [f"{jid} {number}", f"{plan} {cost} a month", used]
            for jid, number, plan, cost, used in members
        ] == [[cell.replace(" (you)", "") for cell in row] for row in shown[1:]]

        month = shift_month(year.open_period, -1)  # topped up, then renewed
        history = rows(await bot.chat(ALICE, f"history {month_label(month)}"))
        moved = [[d, a, k, r] for d, a, k, r in history if a != "$0.00"]
        ledger = page.tables[f"Ledger {month_label(month)}"][1:]
        assert [[d, a.removeprefix("+"), k, r] for d, a, k, r in reversed(ledger)] == moved
        assert len(moved) >= 3  # a top-up and the renewal's lines at least

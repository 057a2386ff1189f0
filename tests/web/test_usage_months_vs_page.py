"""``usage YYYY-MM`` says, for each of the twelve months the account page plots, the
figures the page shows for that month (the same counters), after a generated year."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands import build_registry
from bot.commands.model import Table
from bot.dispatch import Dispatcher
from payments.clock import month_label
from payments.stores import Store
from tests.support.account_site import account_site
from tests.support.history import year_of_history

ALICE = "alice@example.org"


async def test_each_month_of_usage_is_the_pages(real_store: Store, redis_url: str) -> None:
    async with account_site(real_store, redis_url) as site:
        year = await year_of_history(site.store, site.config, ALICE, datetime.now(UTC))
        bot = Dispatcher(build_registry(), site.store, site.config)
        page = await site.page(site.link(ALICE))
        header, *plotted = page.tables["Usage by month"]
        resources = header[1:]
        assert [row[0] for row in plotted] == [month_label(m) for m in year.months]
        for row in plotted[:-1]:  # this month: 'usage' answers what is left instead
            reply = await bot.chat(ALICE, f"usage {row[0]}")
            assert reply is not None and isinstance(reply.table, Table), reply
            used = {line[0]: line[2] for line in reply.table.rows}
            assert [used[r] for r in resources] == row[1:], row[0]
            assert reply.text.startswith(f"Usage {row[0]} (plan basic):")
        refused = await bot.chat(ALICE, "usage 2001-01")
        assert refused is not None and refused.text.startswith("Usage covers ")

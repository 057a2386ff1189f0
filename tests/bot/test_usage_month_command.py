"""``usage YYYY-MM`` as the bot answers it: a month before the account existed says so
instead of a table of zeros. The dispatcher over fakeredis and the real redis-server."""

from __future__ import annotations

from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.clock import month_label, month_of, shift_month
from payments.config import Config
from payments.stores import Store
from tests.support.billing import T0

A = "alice@example.org"


async def say(store: Store, text: str) -> str:
    reply = await Dispatcher(build_registry(), store, Config(), clock=lambda: T0).chat(A, text)
    assert reply is not None
    return reply.text


async def test_a_month_before_the_account_started_says_when_it_started(store: Store) -> None:
    await store.accounts.register_trial(A, T0, 30)
    before = month_label(shift_month(month_of(T0), -1))
    assert await say(store, f"usage {before}") == (
        f"Nothing in {before}: your account started on {T0:%Y-%m-%d}."
    )
    assert (await say(store, "usage")).startswith(f"Usage {month_label(month_of(T0))}")

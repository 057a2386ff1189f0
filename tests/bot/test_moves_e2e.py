"""Moving an account to a new JID through real servers, the real bot process and real
slixmpp clients: ``move NEWJID`` from the old JID, the code arrives at the new one,
``claim CODE`` there; the new JID sees everything, the old one is a stranger.
(A move killed at every step and finished by ``chore repair``: tests/moves/.)"""

from __future__ import annotations

from datetime import UTC, datetime

from accountbot.stack import Stack
from bot.commands.moves import NO_ACCOUNT
from payments.codes import REFUSAL
from payments.money import format_money
from payments.stores import Store
from tests.bot import test_bot_e2e
from tests.bot.test_bot_e2e import login, new_user
from tests.bot.test_groups_e2e import Chat, number
from tests.support.billing import days
from tests.support.bots import outbox_drained
from tests.support.moves import main_worth_moving
from tests.support.servers import Bot
from tests.support.waits import eventually

STRANGER = "You have no account yet: send 'register' to start a trial."
bot = test_bot_e2e.bot
live_store = test_bot_e2e.live_store


async def test_a_main_with_a_leaf_number_invoice_and_credits_moves_by_code(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    old, old_password = new_user(server_stack, "old")
    new, new_password = new_user(server_stack, "new")
    leaf, its_number = new_user(server_stack, "leaf")[0], number()
    before = await main_worth_moving(
        live_store, old, leaf, its_number, datetime.now(UTC) - days(45)
    )
    owed, held = await live_store.billing.owed(old), await live_store.ledger.balances(old)
    [grant] = await live_store.credits.grants(old)
    assert held.total.units == before.total and held.voucher.units and owed.units
    async with (
        login(server_stack, old, old_password) as oc,
        login(server_stack, new, new_password) as nc,
    ):
        o, n = Chat(oc, bot.jid), Chat(nc, bot.jid)
        assert (await o.ask(f"move {new}")).startswith(f"If {new} can receive your account")
        offer = await n.notification("move_offer")
        assert old in offer
        code = offer.split("'claim ")[1].split("'")[0]
        assert await n.ask("claim AAAA-BBBB") == REFUSAL
        claimed = await n.ask(f"claim {code}")
        assert claimed.startswith(f"The account of {old} is yours now")
        assert new in await o.notification("account_moved")
        assert old in await n.notification("account_moved")

        balance = await n.ask("balance")
        assert f"Balance: {format_money(held.prepaid)}" in balance
        assert f"Voucher balance: {format_money(held.voucher)}" in balance
        numbers = await n.ask("numbers")
        assert f"{new} (you): {its_number}" in numbers and leaf in numbers
        assert format_money(owed) in await n.ask("invoices")
        assert f"  {grant.left} until {grant.expires_at:%Y-%m-%d} (pack sms100)" in (
            await n.ask("credits")
        )
        assert await o.ask("balance") == STRANGER  # the old JID has no account now
        assert await o.ask(f"move {new}") == NO_ACCOUNT
        assert await n.ask(f"claim {code}") == REFUSAL  # single use
        await eventually(outbox_drained(live_store), "the outbox drained")

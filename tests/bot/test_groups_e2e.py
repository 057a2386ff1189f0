"""Groups through real servers with the real bot process and real slixmpp clients.

Every test runs on Prosody and ejabberd, with the bot as a XEP-0114 component and
as a client account (the ``bot`` fixture of tests/bot/test_bot_e2e.py).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from datetime import UTC, datetime

from accountbot.stack import Stack
from bot.commands.groups import ADDED
from payments.billing.cycle import default_policy
from payments.billing.payment import credit_account
from payments.clock import as_utc
from payments.codes import REFUSAL
from payments.groups.rules import join_price
from payments.ledger.records import EntryKind
from payments.money import Money, format_money
from payments.stores import Store
from tests.bot import test_bot_e2e
from tests.bot.test_bot_e2e import login, new_user
from tests.support.bots import outbox_drained
from tests.support.clients import UserClient, enable_adhoc, execute, is_notification, notes
from tests.support.servers import Bot
from tests.support.waits import eventually

# The fixtures of tests/bot/test_bot_e2e.py: the real bot process (component and client)
# and a store.
bot = test_bot_e2e.bot
live_store = test_bot_e2e.live_store

POLICY = default_policy("USD")
PRICE = Money(100_000)  # $10.00 a month


async def paid_main(store: Store, jid: str, amount: str = "40") -> str:
    """``jid`` activated now on a plan of its own (so other tests' prices do not matter)."""
    plan_id = f"fam{secrets.token_hex(3)}"
    now = datetime.now(UTC)
    await store.plans.put(plan_id, at=now, price=PRICE, name="Family")
    await store.accounts.register_trial(jid, now, POLICY.trial_days)
    await store.billing.set_next_plan(jid, plan_id)
    whole = Money.whole(int(amount))
    outcome = await credit_account(
        store, jid, whole, reason="top-up", kind=EntryKind.PAYMENT, at=now, policy=POLICY
    )
    assert outcome.settlement.activated
    return plan_id


class Chat:
    """A client talking to the bot; notifications that arrive while waiting for a reply
    are kept (they may come before the reply of the command that caused them)."""

    def __init__(self, client: UserClient, bot_jid: str) -> None:
        self.client = client
        self.bot_jid = bot_jid
        self.kept: list[tuple[str, str]] = []  # (kind, body)

    async def ask(self, text: str, timeout: float = 10.0) -> str:
        self.client.say(self.bot_jid, text)
        while True:
            msg = await self.client.next_message(timeout)
            if not is_notification(msg):
                return str(msg["body"])
            self.kept.append((str(msg["id"]).split(".")[0], str(msg["body"])))

    async def notification(self, kind: str, timeout: float = 15.0) -> str:
        """The first notification of that kind (its id starts with the kind)."""
        while True:
            for i, (seen, body) in enumerate(self.kept):
                if seen == kind:
                    del self.kept[i]
                    return body
            msg = await self.client.next_message(timeout)
            self.kept.append((str(msg["id"]).split(".")[0], str(msg["body"])))


def assign_number(stack: Stack, jid: str, number: str) -> None:
    argv = [sys.executable, "-m", "accountbot", "--config", str(stack.config_path)]
    done = subprocess.run(
        [*argv, "admin", "number", "assign", jid, number],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def number() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


async def test_a_main_pays_for_a_trial_that_accepts_and_both_see_it(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    main, main_password = new_user(server_stack, "main")
    leaf, leaf_password = new_user(server_stack, "leaf")
    plan_id = await paid_main(live_store, main)
    before = (await live_store.ledger.balances(main)).total
    main_number, leaf_number = number(), number()
    assign_number(server_stack, main, main_number)
    async with (
        login(server_stack, main, main_password) as mc,
        login(server_stack, leaf, leaf_password) as fc,
    ):
        m, f = Chat(mc, bot.jid), Chat(fc, bot.jid)
        assert "Welcome" in await f.ask("register")
        assign_number(server_stack, leaf, leaf_number)
        assert await m.ask(f"add {leaf}") == ADDED
        invitation = await f.notification("invitation")
        assert main in invitation
        code = invitation.split("'accept ")[1].split("'")[0]
        accepted = await f.ask(f"accept {code}")
        assert accepted.startswith(f"Your account is now paid for by {main}")
        joined = await m.notification("leaf_joined")
        assert leaf in joined

        listed = await m.ask("numbers")
        assert f"{leaf}: {leaf_number}, {plan_id} $10.00 a month" in listed
        assert f"{main} (you): {main_number}" in listed
        named = await f.ask("numbers")
        assert named.startswith(f"Your account is paid for by {main} ({main_number}).")

        [charge] = [e for e in await live_store.ledger.entries(main) if e.ref.startswith("join:")]
        sub = await live_store.billing.subscriber(main)
        assert sub is not None and sub.account.next_renewal_at is not None
        expected = join_price(
            PRICE, as_utc(charge.at), sub.account.next_renewal_at, sub.state.renewal_day
        ).amount
        assert Money(0) < expected <= PRICE and -charge.amount == expected
        after = (await live_store.ledger.balances(main)).total
        assert before - after == expected
        assert format_money(after) not in named  # the leaf never sees the main's balance
        assert charge.reason.startswith(f"{plan_id} for {leaf}, joined (pro-rated to")
        assert f"Balance: {format_money(after)}" in await m.ask("balance")
        assert f"{plan_id} for {leaf}, joined" in await m.ask("history")

        question = await m.ask(f"remove {leaf}")
        assert question.startswith(f"Stop paying for {leaf}?")
        removed = await m.ask("yes")
        assert removed.startswith(f"You no longer pay for {leaf}. It stays paid until")
        assert main in await f.notification("leaf_left")
        await eventually(outbox_drained(live_store), "the outbox drained")
        assert "help more" in await m.ask("help")  # the probe: no second message came first
        assert "leaf_left" not in [kind for kind, _ in m.kept], m.kept


async def test_an_offer_is_a_choice_in_the_accept_form_and_remove_says_it_once(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    main, main_password = new_user(server_stack, "main")
    leaf, leaf_password = new_user(server_stack, "leaf")
    await paid_main(live_store, main)
    await live_store.accounts.register_trial(leaf, datetime.now(UTC), POLICY.trial_days)
    async with (
        login(server_stack, main, main_password) as mc,
        login(server_stack, leaf, leaf_password) as fc,
    ):
        enable_adhoc(mc)
        enable_adhoc(fc)
        m, f = Chat(mc, bot.jid), Chat(fc, bot.jid)
        added = await execute(mc, bot.adhoc_jid, "add", {"jid": leaf})
        assert notes(added) == ADDED
        await f.notification("invitation")
        form = await execute(fc, bot.adhoc_jid, "accept")
        offer = form["command"]["form"].get_fields()["code"]
        assert offer["type"] == "list-single" and offer["label"] == "Offer"
        [(code, label)] = [(o["value"], o["label"]) for o in offer["options"]]
        assert label == f"{main} offers to pay for your account (Family plan)"
        accepted = await execute(fc, bot.adhoc_jid, "accept", {"code": code})
        assert notes(accepted).startswith(f"Your account is now paid for by {main}")
        assert await live_store.botstate.offers(leaf, datetime.now(UTC)) == []
        await m.notification("leaf_joined")

        removed = await execute(mc, bot.adhoc_jid, "remove", {"jid": leaf}, {"confirm": True})
        assert notes(removed).startswith(f"You no longer pay for {leaf}.")
        await f.notification("leaf_left")
        await eventually(outbox_drained(live_store), "the outbox drained")
        assert "help more" in await m.ask("help")  # the probe: the result came once, as the form
        assert "leaf_left" not in [kind for kind, _ in m.kept], m.kept


async def test_add_reads_the_same_for_anyone_and_reaches_only_a_trial(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    main, main_password = new_user(server_stack, "main")
    trial, trial_password = new_user(server_stack, "trial")
    paid, paid_password = new_user(server_stack, "paid")
    stranger = f"nobody{secrets.token_hex(4)}@localhost"  # not even an XMPP account
    await paid_main(live_store, main)
    await paid_main(live_store, paid, "20")
    await live_store.accounts.register_trial(trial, datetime.now(UTC), POLICY.trial_days)
    async with (
        login(server_stack, main, main_password) as mc,
        login(server_stack, trial, trial_password) as tc,
        login(server_stack, paid, paid_password) as pc,
    ):
        m, t, p = Chat(mc, bot.jid), Chat(tc, bot.jid), Chat(pc, bot.jid)
        assert "Family" in await p.notification("plan_activated")  # queued before it logged in
        replies = [await m.ask(f"add {jid}") for jid in (stranger, trial, paid)]
        assert replies == [ADDED, ADDED, ADDED]  # byte for byte
        assert main in await t.notification("invitation")  # the path works...
        await eventually(outbox_drained(live_store), "the outbox drained")
        for chat in (p, t):  # ...and nothing else was sent: a probe's answer comes first
            assert "help more" in await chat.ask("help")
            assert chat.kept == [], chat.kept


async def test_a_referral_code_signs_up_one_stranger(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    main, main_password = new_user(server_stack, "main")
    await paid_main(live_store, main)
    first, first_password = new_user(server_stack, "new")
    second, second_password = new_user(server_stack, "new")
    async with (
        login(server_stack, main, main_password) as mc,
        login(server_stack, first, first_password) as ac,
        login(server_stack, second, second_password) as bc,
    ):
        m, a, b = Chat(mc, bot.jid), Chat(ac, bot.jid), Chat(bc, bot.jid)
        answer = await m.ask("invite")
        code = answer.split(": ", 1)[1].split("\n")[0]
        welcome = await a.ask(f"register {code}")
        assert welcome.startswith(f"Welcome! Your account is now paid for by {main}")
        assert await b.ask(f"register {code}") == REFUSAL
        assert "trial runs until" in await b.ask("register")
        assert first in await m.notification("leaf_joined")

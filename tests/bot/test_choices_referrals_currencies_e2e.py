"""Notification choices, referral rewards and two currencies through real servers, the real
bot process and real slixmpp clients (the domain's cases: tests/notifications/,
tests/referrals/, tests/accounts/test_currency.py)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from accountbot.stack import Stack
from payments.billing.cycle import default_policy
from payments.ledger.records import EntryKind
from payments.money import Money, parse_money
from payments.notices import Notice, NoticeKind
from payments.stores import Store
from payments.topup.flow import receive_payment
from payments.topup.providers.base import PaymentEvent
from tests.bot import test_bot_e2e
from tests.bot.test_bot_e2e import login, new_user
from tests.bot.test_groups_e2e import Chat
from tests.support.servers import Bot

bot = test_bot_e2e.bot
live_store = test_bot_e2e.live_store

POLICY = default_policy("USD", "CAD")


def cli(stack: Stack, *argv: str) -> str:
    base = [sys.executable, "-m", "accountbot", "--config", str(stack.config_path)]
    done = subprocess.run([*base, *argv], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def a_plan(store: Store) -> str:
    """A plan of this test's own, priced $10 and CA$13 (other tests' prices do not matter)."""
    plan_id = f"two{secrets.token_hex(3)}"
    prices = [parse_money("10", "USD"), parse_money("13", "CAD")]
    await store.plans.put(plan_id, at=datetime.now(UTC), prices=prices, name="Two")
    return plan_id


async def webhook(
    store: Store, jid: str, amount: Money, ref: str = "", at: datetime | None = None
) -> str:
    """The provider's webhook of a completed payment (replayed with the same ``ref``)."""
    ref = ref or f"sim:{secrets.token_hex(6)}"
    event = PaymentEvent(ref, ref, jid, amount)
    await receive_payment(store, event, "sim", POLICY, now=at or datetime.now(UTC))
    return ref


async def test_notify_choices_are_respected_by_the_outbox_and_refused_where_they_must(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    jid, password = new_user(server_stack, "quiet")
    async with login(server_stack, jid, password) as client:
        chat = Chat(client, bot.jid)
        assert "Welcome" in await chat.ask("register")
        assert await chat.ask("notify usage off") == "Notices of usage are off."
        refused = await chat.ask("notify frozen off")
        assert refused.startswith("Notices about freezes and unfreezes cannot be turned off")
        listed = await chat.ask("notify")
        assert "usage: off" in listed and "low_balance: on" in listed
        await live_store.outbox.notify_many(
            [
                Notice(jid, NoticeKind.USAGE_THRESHOLD, "You used 75% of sms.", key=f"u:{jid}"),
                Notice(jid, NoticeKind.OPERATOR_CREDIT, "The probe.", key=f"probe:{jid}"),
            ]
        )
        assert await chat.notification("operator_credit") == "The probe."
        assert "usage_threshold" not in [kind for kind, _ in chat.kept], chat.kept
        assert await chat.ask("notify usage on") == "Notices of usage are on."
        await live_store.outbox.notify(
            Notice(jid, NoticeKind.USAGE_THRESHOLD, "You used 90% of sms.", key=f"u2:{jid}")
        )
        assert await chat.notification("usage_threshold") == "You used 90% of sms."


async def test_a_cad_and_a_usd_account_side_by_side(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    (usd_jid, usd_password), (cad_jid, cad_password) = (
        new_user(server_stack, "usd"),
        new_user(server_stack, "cad"),
    )
    plan_id = await a_plan(live_store)
    async with (
        login(server_stack, usd_jid, usd_password) as uc,
        login(server_stack, cad_jid, cad_password) as cc,
    ):
        u, c = Chat(uc, bot.jid), Chat(cc, bot.jid)
        for chat in (u, c):
            assert "Welcome" in await chat.ask("register")
            await chat.ask(f"plan {plan_id}")
        assert "CAD" in await c.ask("currency CAD")
        plans = await c.ask("plans")
        assert "CA$13.00" in plans
        await webhook(live_store, usd_jid, parse_money("20", "USD"))
        await webhook(live_store, cad_jid, parse_money("20", "CAD"))
        usd_balance, cad_balance = await u.ask("balance"), await c.ask("balance")
        assert "Balance: $10.00" in usd_balance and "$10.00 a month" in usd_balance
        assert "Balance: CA$7.00" in cad_balance and "CA$13.00 a month" in cad_balance
        assert "cannot" in (await c.ask("currency USD")).lower()  # fixed by its money

    later = (datetime.now(UTC) + timedelta(days=32)).isoformat()
    cli(server_stack, "chore", "renew", "--now", later)
    charges = {
        jid: [e.amount for e in await live_store.ledger.entries(jid) if e.kind is EntryKind.CHARGE]
        for jid in (usd_jid, cad_jid)
    }
    assert charges[usd_jid] == [-parse_money("10", "USD")] * 2
    assert charges[cad_jid][0] == -parse_money("13", "CAD")
    reconciled = cli(server_stack, "admin", "reconcile")
    assert "reconcile CAD:" in reconciled and "reconcile USD:" in reconciled
    assert " 0 mismatches" in reconciled


async def test_a_referral_from_code_to_reward_once_and_withheld_for_a_refund(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    rita, rita_password = new_user(server_stack, "rita")
    newt, newt_password = new_user(server_stack, "newt")
    nora, nora_password = new_user(server_stack, "nora")
    plan_id = await a_plan(live_store)
    async with (
        login(server_stack, rita, rita_password) as rc,
        login(server_stack, newt, newt_password) as nc,
        login(server_stack, nora, nora_password) as oc,
    ):
        r, n, o = Chat(rc, bot.jid), Chat(nc, bot.jid), Chat(oc, bot.jid)
        assert "Welcome" in await r.ask("register")
        await r.ask(f"plan {plan_id}")
        await webhook(live_store, rita, parse_money("20", "USD"))
        code = (await r.ask("refer")).splitlines()[0].removeprefix("Your referral code: ")
        for chat in (n, o):
            welcome = await chat.ask(f"register {code}")
            assert welcome.startswith("Welcome! Your 60-day trial"), welcome
        ref = await webhook(live_store, newt, parse_money("25", "USD"))
        await webhook(live_store, newt, parse_money("25", "USD"), ref)  # a replay
        paid = await webhook(live_store, nora, parse_money("25", "USD"))
        cli(
            server_stack,
            "admin",
            "refund",
            nora,
            "5",
            "--ref",
            f"r{paid}",
            "--reason",
            "asked",
            "--outside",
        )

        settled = (datetime.now(UTC) + timedelta(days=15)).isoformat()
        for _ in range(2):  # a replay of the chore rewards nobody twice
            cli(server_stack, "chore", "reward-referrals", "--now", settled)
        reward = await r.notification("referral_reward")
        assert newt in reward and "$10.00" in reward
        stats = await r.ask("refer")
        assert "Signed up with it: 2. Rewards paid: 1." in stats
        assert "Withheld (payment taken back): 1." in stats
        rewards = [e for e in await live_store.ledger.entries(rita) if e.kind is EntryKind.REFERRAL]
        assert [e.amount for e in rewards] == [parse_money("10", "USD")]
        assert "help more" in await r.ask("help")  # the probe: no second reward notice came
        assert [k for k, _ in r.kept].count("referral_reward") == 0, r.kept

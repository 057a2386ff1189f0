"""The bot through real servers, as people use it: real slixmpp clients, real bot process.

Every test runs four times: on Prosody and on ejabberd, with the bot as a XEP-0114
component and as a client account.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import pytest

from accountbot.stack import Stack
from payments import keys
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.clients import (
    UserClient,
    command_nodes,
    enable_adhoc,
    execute,
    is_notification,
    logged_in,
    notes,
)
from tests.support.servers import MODES, Bot, serving_bot

OPERATOR = "admin"


@pytest.fixture(scope="module", params=MODES)
def bot(
    server_stack: Stack, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp(f"bot-{server_stack.xmpp.name}-{request.param}")
    with serving_bot(server_stack, tmp, request.param) as bot:
        yield bot


@pytest.fixture
async def live_store(server_stack: Stack) -> AsyncIterator[Store]:
    store = Store(open_redis(server_stack.redis.url))
    yield store
    await store.close()


def new_user(stack: Stack, prefix: str = "user") -> tuple[str, str]:
    return stack.xmpp.adduser(f"{prefix}{secrets.token_hex(4)}")


def operator(stack: Stack) -> tuple[str, str]:
    return stack.xmpp.adduser(OPERATOR, "operator-password")


async def ask(client: UserClient, to: str, text: str, timeout: float = 10.0) -> str:
    """Send a chat line and return the bot's reply (notifications meanwhile are skipped)."""
    client.say(to, text)
    while is_notification(reply := await client.next_message(timeout)):
        pass
    assert reply["type"] == "chat", reply
    return str(reply["body"])


def login(stack: Stack, jid: str, password: str) -> AbstractAsyncContextManager[UserClient]:
    return logged_in(jid, password, "127.0.0.1", stack.xmpp.c2s_port)


async def test_register_then_chat_balance_shows_what_the_store_holds(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    jid, password = new_user(server_stack)
    async with login(server_stack, jid, password) as client:
        assert "Unknown command" not in await ask(client, bot.jid, "help")
        assert "Welcome" in await ask(client, bot.jid, "register")
        assert "already have an account" in await ask(client, bot.jid, "Register")
        await live_store.ledger.credit(jid, Money(123_400), reason="test")
        answer = await ask(client, bot.jid, "BALANCE")
        assert "Balance: $12.34" in answer
        assert "trial until" in answer


async def test_adhoc_lists_commands_and_runs_balance(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    jid, password = new_user(server_stack)
    await live_store.accounts.register_trial(jid, datetime.now(UTC), 30)
    await live_store.ledger.credit(jid, Money(55_000), reason="test")
    async with login(server_stack, jid, password) as client:
        enable_adhoc(client)
        nodes = await command_nodes(client, bot.adhoc_jid)
        assert {"help", "balance", "history", "plans"} <= set(nodes)
        assert "register" not in nodes and "admin-credit" not in nodes
        answer = await execute(client, bot.adhoc_jid, "balance")
        assert answer["command"]["status"] == "completed"
        assert "Balance: $5.50" in notes(answer)


async def test_stranger_and_operator_see_different_command_lists(
    server_stack: Stack, bot: Bot
) -> None:
    stranger = new_user(server_stack, "stranger")
    async with login(server_stack, *stranger) as client:
        enable_adhoc(client)
        stranger_nodes = set(await command_nodes(client, bot.adhoc_jid))
    async with login(server_stack, *operator(server_stack)) as client:
        enable_adhoc(client)
        operator_nodes = set(await command_nodes(client, bot.adhoc_jid))
    assert "register" in stranger_nodes
    assert not any(node.startswith("admin") for node in stranger_nodes)
    assert {"admin-show", "admin-credit", "admin-debit"} <= operator_nodes
    assert stranger_nodes != operator_nodes


async def test_stranger_cannot_run_operator_commands(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    victim, _ = new_user(server_stack)
    async with login(server_stack, *new_user(server_stack, "stranger")) as client:
        answer = await ask(client, bot.jid, f"admin credit {victim} 20 free money")
        assert answer.startswith("Unknown command")
        enable_adhoc(client)
        with pytest.raises(Exception, match=r"item-not-found|No such command"):
            await execute(client, bot.adhoc_jid, "admin-credit")
    assert await live_store.redis.exists(keys.balance_prepaid(victim)) == 0


async def test_operator_credits_by_chat_and_the_user_is_told(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    user, user_password = new_user(server_stack)
    async with (
        login(server_stack, user, user_password) as user_client,
        login(server_stack, *operator(server_stack)) as op,
    ):
        question = await ask(op, bot.jid, f"admin credit {user} 20 welcome gift")
        assert "Credit $20.00" in question and "yes" in question
        assert "Credited $20.00" in await ask(op, bot.jid, "yes")
        told = await user_client.next_message(15)
        assert "$20.00" in told["body"] and "Balance: $20.00" in told["body"]
        assert "nothing to confirm" in await ask(op, bot.jid, "yes")  # confirmed once only
    assert (await live_store.ledger.balances(user)).prepaid == Money.whole(20)
    [entry] = await live_store.ledger.entries(user)
    assert entry.reason == "welcome gift" and entry.actor == "admin@localhost"


async def test_operator_credits_by_adhoc_with_confirmation(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    user, _ = new_user(server_stack)
    async with login(server_stack, *operator(server_stack)) as op:
        enable_adhoc(op)
        cancelled = await execute(
            op,
            bot.adhoc_jid,
            "admin-credit",
            {"jid": user, "amount": "7.25", "reason": "goodwill"},
            {"confirm": False},
        )
        assert "Cancelled" in notes(cancelled)
        assert (await live_store.ledger.balances(user)).prepaid == Money(0)
        bad = await execute(
            op, bot.adhoc_jid, "admin-credit", {"jid": user, "amount": "1e3", "reason": "x"}
        )
        assert bad["command"]["status"] == "executing"
        form = bad["command"]["form"]
        assert form["instructions"].startswith("Amount: '1e3' is not an amount like 20")
        fields = form.get_fields()
        assert fields["amount"]["value"] == "1e3" and fields["jid"]["value"] == user
        assert fields["amount"]["desc"] == form["instructions"]
        done = await execute(
            op,
            bot.adhoc_jid,
            "admin-credit",
            {"jid": user, "amount": "7.25", "reason": "goodwill"},
            {"confirm": True},
        )
        assert done["command"]["status"] == "completed"
        assert "Credited $7.25" in notes(done)
    assert (await live_store.ledger.balances(user)).prepaid == Money(72_500)


async def test_malformed_commands_get_what_was_expected(server_stack: Stack, bot: Bot) -> None:
    async with login(server_stack, *new_user(server_stack)) as client:
        await ask(client, bot.jid, "register")
        assert "Unknown command 'frobnicate'" in await ask(client, bot.jid, "frobnicate now")
        assert "takes no arguments" in await ask(client, bot.jid, "balance please")
        assert "YYYY-MM" in await ask(client, bot.jid, "history march")
        assert "History covers" in await ask(client, bot.jid, "history 1999-01")
        assert "No entries" in await ask(client, bot.jid, "history")


async def test_a_reply_fallback_is_cut_before_parsing(server_stack: Stack, bot: Bot) -> None:
    async with login(server_stack, *new_user(server_stack)) as client:
        msg = client.make_message(mto=bot.jid, mbody="> Unknown command\nregister", mtype="chat")
        msg.send()
        assert "Welcome" in (await client.next_message())["body"]


async def test_a_frozen_account_hears_why_on_every_interaction(
    server_stack: Stack, bot: Bot
) -> None:
    user, password = new_user(server_stack)
    async with (
        login(server_stack, user, password) as client,
        login(server_stack, *operator(server_stack)) as op,
    ):
        await ask(client, bot.jid, "register")
        question = await ask(op, bot.jid, f"admin freeze {user} violation spam reports")
        assert "yes" in question
        await ask(op, bot.jid, "yes")
        for command in ("balance", "help", "frobnicate"):
            answer = await ask(client, bot.jid, command)
            assert answer.splitlines()[0] == (
                "Your account is frozen by an operator: spam reports"
            ), answer
        await ask(op, bot.jid, f"admin unfreeze {user} violation")
        assert "frozen" not in await ask(client, bot.jid, "balance")


async def test_operator_sees_an_account_with_its_number(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    user, _ = new_user(server_stack)
    await live_store.accounts.register_trial(user, datetime.now(UTC), 30)
    number = f"+1555{secrets.randbelow(10**7):07d}"
    await live_store.numbers.assign(user, number)
    await live_store.ledger.credit(user, Money(42_000), reason="gift")
    async with login(server_stack, *operator(server_stack)) as op:
        shown = await ask(op, bot.jid, f"admin show {user}")
    first, balances, entry = shown.splitlines()[:3]
    assert first == f"{user}: trial, active, plan trial, counts in USD, number {number}"
    assert balances == "prepaid $4.20, voucher $0.00"
    assert "+$4.20" in entry and "gift" in entry


async def test_a_sender_whose_jid_cannot_key_an_account_is_refused_in_chat_and_adhoc(
    server_stack: Stack, bot: Bot, live_store: Store
) -> None:
    """Issue 11, defect 5: chat and ad-hoc take the sender's JID through the same
    normalisation. A JID with a brace (it would move the key's hash tag) gets a clear
    refusal either way, and nothing is written for it: no account, no top-up link."""
    jid, password = server_stack.xmpp.adduser(f"odd{{{secrets.token_hex(3)}}}")
    async with login(server_stack, jid, password) as client:
        enable_adhoc(client)
        assert "cannot hold an account" in await ask(client, bot.jid, "register")
        assert "cannot hold an account" in await ask(client, bot.jid, "topup 10")
        answer = await execute(client, bot.adhoc_jid, "register")
        assert answer["command"]["status"] == "completed"
        assert "cannot hold an account" in notes(answer)
        assert await command_nodes(client, bot.adhoc_jid) == {}
    written = [key async for key in live_store.redis.scan_iter(match=f"*{jid.split('@')[0]}*")]
    assert written == []

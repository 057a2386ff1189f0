"""Messages as real clients send them, through Prosody and ejabberd, to the real bot.

Each message carries what its client puts beside the body (receipt request,
chat state, marker, origin-id, XHTML-IM); an OMEMO message from Conversations
carries only a fallback body. Every one is answered once, correctly, and a
requested receipt comes back before the answer. Runs on both servers, with the
bot as a component and as a client account.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from accountbot.stack import Stack
from bot.chat import ENCRYPTED_REPLY
from tests.support.real_clients import (
    ACTIVE,
    EXTRAS,
    MARKABLE,
    OMEMO,
    OMEMO_FALLBACK,
    RECEIPT,
    RecordingClient,
    recording,
)
from tests.support.servers import MODES, Bot, serving_bot


@pytest.fixture(scope="module", params=MODES)
def bot(
    server_stack: Stack, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp(f"bot-{server_stack.xmpp.name}-{request.param}")
    with serving_bot(server_stack, tmp, request.param) as bot:
        yield bot


def user(stack: Stack) -> tuple[str, str]:
    return stack.xmpp.adduser(f"user{secrets.token_hex(4)}")


async def exchange(
    client: RecordingClient, bot: Bot, extras: str, body: str | None, receipt: bool = True
) -> str:
    """Send one message; the receipt (when asked for) comes back first, then the answer."""
    msg_id = f"m-{secrets.token_hex(6)}"
    client.send_as_client(bot.jid, msg_id, extras, body)
    if receipt:
        assert await client.next_receipt() == msg_id
    return str((await client.next_message())["body"])


async def test_every_client_s_message_is_answered_and_receipted(
    server_stack: Stack, bot: Bot
) -> None:
    async with recording(*user(server_stack), server_stack.xmpp.c2s_port) as client:
        welcome = await exchange(client, bot, EXTRAS["conversations"], "Register")
        assert welcome.startswith("Welcome!"), welcome
        for name in ("conversations", "poezio", "gajim"):
            answer = await exchange(client, bot, EXTRAS[name], "Balance.")
            assert answer.startswith("Balance: $0.00"), (name, answer)
        answer = await exchange(client, bot, EXTRAS["dino"], "plans", receipt=False)
        assert "Unknown command" not in answer
        assert client.receipts.empty()


async def test_an_omemo_message_gets_one_plain_reply_about_encryption(
    server_stack: Stack, bot: Bot
) -> None:
    async with recording(*user(server_stack), server_stack.xmpp.c2s_port) as client:
        extras = OMEMO + EXTRAS["conversations"]
        assert await exchange(client, bot, extras, OMEMO_FALLBACK) == ENCRYPTED_REPLY
        # Nothing else came for it: the next answer is the one to the next message.
        assert (await exchange(client, bot, EXTRAS["conversations"], "register")).startswith(
            "Welcome!"
        )


async def test_bodiless_notifications_get_no_answer(server_stack: Stack, bot: Bot) -> None:
    async with recording(*user(server_stack), server_stack.xmpp.c2s_port) as client:
        composing = "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
        displayed = "<displayed xmlns='urn:xmpp:chat-markers:0' id='x1'/>"
        received = "<received xmlns='urn:xmpp:receipts' id='x2'/>"
        for extras in (composing, ACTIVE, displayed, received, MARKABLE):
            client.send_as_client(bot.jid, f"n-{secrets.token_hex(4)}", extras)
        # The probe: the first answer to arrive is the one to this message.
        answer = await exchange(client, bot, RECEIPT, "register")
        assert answer.startswith("Welcome!"), answer

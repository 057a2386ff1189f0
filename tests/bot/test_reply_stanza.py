"""The bot's chat reply, built without copying the incoming stanza (``send_reply``), is
what ``Message.reply`` made: addresses swapped, a fresh id, the thread kept, type chat."""

from __future__ import annotations

from typing import Any

import pytest
import slixmpp
from slixmpp.xmlstream import ET

from bot.commands import build_registry
from bot.commands.model import Reply
from bot.dispatch import Dispatcher
from bot.xmpp import AccountBot
from payments.config import Config, XmppConfig
from payments.stores import Store

INCOMING = (
    "<message xmlns='jabber:component:accept' to='accounts.localhost' id='m1' "
    "from='alice@localhost/phone' type='{type}'><body>balance</body>{extra}</message>"
)
THREAD = "<thread parent='p0'>t1</thread>"


def sent_reply(store: Store, monkeypatch: pytest.MonkeyPatch, type_: str, extra: str) -> Any:
    bot = AccountBot(XmppConfig(), Dispatcher(build_registry(), store, Config()))
    sent: list[Any] = []
    monkeypatch.setattr(slixmpp.Message, "send", lambda self: sent.append(self))
    xml = ET.fromstring(INCOMING.format(type=type_, extra=extra))
    bot.send_reply(slixmpp.Message(bot.xmpp, xml), Reply("Balance: $1.00", url="https://x.test/"))
    [out] = sent
    return out


@pytest.mark.parametrize(("type_", "extra"), [("chat", ""), ("normal", THREAD)])
async def test_the_reply_is_the_one_message_reply_made(
    real_store: Store, monkeypatch: pytest.MonkeyPatch, type_: str, extra: str
) -> None:
    out = sent_reply(real_store, monkeypatch, type_, extra)
    assert str(out["to"]) == "alice@localhost/phone" and str(out["from"]) == "accounts.localhost"
    assert out["type"] == "chat" and out["body"] == "Balance: $1.00"
    assert out["id"] and out["id"] != "m1"
    assert out["oob"]["url"] == "https://x.test/"
    assert (out["thread"], out["parent_thread"]) == (("t1", "p0") if extra else ("", ""))

"""Which incoming messages are commands, as real clients send them (XML in, verdict out)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from slixmpp import Message

from bot.chat import Incoming, Kind, read_message

HEAD = "<message xmlns='jabber:client' from='alice@localhost/phone' to='accounts.localhost'"
RECEIPT = "<request xmlns='urn:xmpp:receipts'/>"
MARKABLE = "<markable xmlns='urn:xmpp:chat-markers:0'/>"
ORIGIN = "<origin-id xmlns='urn:xmpp:sid:0' id='6c1e2b6f'/>"
STANZA_ID = "<stanza-id xmlns='urn:xmpp:sid:0' id='srv-1' by='accounts.localhost'/>"
ACTIVE = "<active xmlns='http://jabber.org/protocol/chatstates'/>"
OMEMO_FALLBACK = (
    "I sent you an OMEMO encrypted message but your client doesn’t seem to support that. "
    "Find more information on https://conversations.im/omemo"
)
AXOLOTL = (
    "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1718'>"
    "<key rid='42'>MwohBQ==</key><iv>q83vWRjEMZ0=</iv></header>"
    "<payload>c2VjcmV0</payload></encrypted>"
)
EME_OMEMO = (
    "<encryption xmlns='urn:xmpp:eme:0' name='OMEMO' namespace='eu.siacs.conversations.axolotl'/>"
)


def message(inner: str, *, type_: str = "chat", id_: str = "m1") -> Message:
    text = f"{HEAD} type='{type_}' id='{id_}'>{inner}</message>"
    xml = ET.fromstring(text)  # noqa: S314 (the tests' own XML)
    return Message(xml=xml)


def body(text: str) -> str:
    return f"<body>{text}</body>"


CLIENT_MESSAGES = {
    # Conversations and Cheogram, encryption off: all four extras on every message.
    "conversations": body("balance") + RECEIPT + MARKABLE + ORIGIN + ACTIVE,
    # poezio 0.14: a receipt request, a chat state and an origin-id.
    "poezio": ACTIVE + body("balance") + RECEIPT + ORIGIN,
    # Gajim with formatting: XHTML-IM beside the body.
    "gajim-xhtml": body("balance")
    + "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
    + "<body xmlns='http://www.w3.org/1999/xhtml'><p><strong>balance</strong></p></body></html>"
    + RECEIPT
    + ORIGIN,
    # What the server adds for its archive.
    "stanza-id": body("balance") + STANZA_ID,
    # Dino: a chat marker request only.
    "dino": body("balance") + MARKABLE + ORIGIN,
    # A correction (XEP-0308) of a mistyped command is a command.
    "correction": body("balance")
    + "<replace xmlns='urn:xmpp:message-correct:0' id='m0'/>"
    + RECEIPT,
}


@pytest.mark.parametrize("client", sorted(CLIENT_MESSAGES))
def test_a_body_is_a_command_whatever_it_carries(client: str) -> None:
    incoming = read_message(message(CLIENT_MESSAGES[client]))
    assert incoming.kind is Kind.COMMAND
    assert incoming.text == "balance"
    assert incoming.receipt is (RECEIPT in CLIENT_MESSAGES[client])


def test_a_blank_body_is_answered_too() -> None:
    assert read_message(message(body("  ") + RECEIPT)) == Incoming(Kind.COMMAND, "", True)


def test_a_normal_message_is_a_command_too() -> None:
    assert read_message(message(body("help"), type_="normal")).kind is Kind.COMMAND


def test_a_receipt_needs_an_id_to_be_answered() -> None:
    assert read_message(message(body("help") + RECEIPT, id_="")).receipt is False


def test_a_reply_fallback_is_cut_before_parsing() -> None:
    quoted = "&gt; Balance: $5.00\n"
    xml = (
        body(f"{quoted}history")
        + "<reply xmlns='urn:xmpp:reply:0' to='accounts.localhost' id='r1'/>"
        + "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'>"
        + f"<body start='0' end='{len('> Balance: $5.00' + chr(10))}'/></fallback>"
        + RECEIPT
    )
    assert read_message(message(xml)) == Incoming(Kind.COMMAND, "history", receipt=True)


def test_quoted_lines_without_a_fallback_are_cut_too() -> None:
    assert read_message(message(body("&gt; Unknown command\nplans"))).text == "plans"


ENCRYPTED = {
    # Conversations with OMEMO on (its default for new chats).
    "omemo-conversations": AXOLOTL
    + RECEIPT
    + MARKABLE
    + ORIGIN
    + EME_OMEMO
    + body(OMEMO_FALLBACK)
    + "<store xmlns='urn:xmpp:hints'/>",
    # OMEMO 0.8+ (urn:xmpp:omemo:2), no fallback body at all.
    "omemo2-bodiless": "<encrypted xmlns='urn:xmpp:omemo:2'><header sid='7'>"
    "<keys jid='accounts.localhost'><key rid='9'>a2V5</key></keys></header>"
    "<payload>c2VjcmV0</payload></encrypted>" + RECEIPT,
    # Legacy OpenPGP (XEP-0027): the body is a placeholder.
    "openpgp-legacy": body("This message is encrypted.")
    + "<x xmlns='jabber:x:encrypted'>hQEMA1</x>"
    + RECEIPT,
    # OpenPGP for XMPP (XEP-0373).
    "openpgp-ox": "<openpgp xmlns='urn:xmpp:openpgp:0'>aGVsbG8=</openpgp>"
    + body("[This message is OpenPGP encrypted]"),
    # Only the explicit-encryption marker (XEP-0380) beside a body.
    "eme-only": body("unreadable")
    + "<encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:otr:0'/>",
    # OTR: a query and a data message, as bodies.
    "otr-query": body("?OTRv23? alice has requested an Off-the-Record private conversation."),
    "otr-data": body("?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb."),
}


@pytest.mark.parametrize("case", sorted(ENCRYPTED))
def test_an_encrypted_message_is_never_a_command(case: str) -> None:
    incoming = read_message(message(ENCRYPTED[case]))
    assert incoming.kind is Kind.ENCRYPTED
    assert incoming.text == ""
    assert incoming.receipt is (RECEIPT in ENCRYPTED[case])


NOTHING_TO_ANSWER = {
    "chat-state": "<composing xmlns='http://jabber.org/protocol/chatstates'/>",
    "receipt": "<received xmlns='urn:xmpp:receipts' id='r9'/>",
    "displayed-marker": "<displayed xmlns='urn:xmpp:chat-markers:0' id='r9'/>",
    "empty-body": "<body/>" + ACTIVE,
    # An OMEMO key exchange: no payload, no body.
    "omemo-key-transport": "<encrypted xmlns='eu.siacs.conversations.axolotl'>"
    "<header sid='1'><key rid='2'>a2V5</key><iv>aXY=</iv></header></encrypted>",
    "reaction": "<reactions xmlns='urn:xmpp:reactions:0' id='r9'>"
    "<reaction>👍</reaction></reactions>" + body("👍"),
    "retraction": "<retract xmlns='urn:xmpp:message-retract:1' id='r9'/>"
    + body("This person attempted to retract a previous message."),
    "carbon": "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
    "<message xmlns='jabber:client' type='chat'><body>balance</body></message>"
    "</forwarded></sent>",
    "direct-invitation": "<x xmlns='jabber:x:conference' jid='room@muc.localhost'/>"
    + body("Join my room"),
}


@pytest.mark.parametrize("case", sorted(NOTHING_TO_ANSWER))
def test_notifications_and_copies_are_not_answered(case: str) -> None:
    assert read_message(message(NOTHING_TO_ANSWER[case])).kind is Kind.IGNORED


@pytest.mark.parametrize("type_", ["error", "groupchat", "headline"])
def test_errors_group_chat_and_headlines_are_not_answered(type_: str) -> None:
    incoming = read_message(message(body("balance") + RECEIPT, type_=type_))
    assert incoming == Incoming(Kind.IGNORED)

"""The chat face: what an incoming message is (a command, an encrypted message, or
nothing to answer) and the text a person typed.

Clients put much beside the body (XMPP-NOTES.md, "Clients"): Conversations,
Cheogram and poezio add a receipt request (XEP-0184), a chat state
(XEP-0085), ``<markable/>`` (XEP-0333) and ``<origin-id/>`` (XEP-0359) to every
message, some add XHTML-IM. None of that changes what the message asks: every
message with a body is answered. Only what carries no request from a person is
left unanswered: bodiless notifications (receipts, chat states, markers),
carbons, reactions, retractions, invitations, errors and group chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

RECEIPTS_NS: Final = "urn:xmpp:receipts"
FALLBACK_NS: Final = "urn:xmpp:fallback:0"
REPLY_NS: Final = "urn:xmpp:reply:0"
OMEMO_NS: Final = ("eu.siacs.conversations.axolotl", "urn:xmpp:omemo:2")
# Elements whose presence means the body is not what the person wrote: an
# encrypted payload beside a fallback text ("I sent you an OMEMO encrypted
# message..."). XEP-0384 (OMEMO, both namespaces), XEP-0027 and XEP-0373
# (OpenPGP), XEP-0380 (explicit encryption).
ENCRYPTED: Final = (
    *(f"{{{ns}}}encrypted" for ns in OMEMO_NS),
    "{jabber:x:encrypted}x",
    "{urn:xmpp:openpgp:0}openpgp",
    "{urn:xmpp:eme:0}encryption",
)
OTR_PREFIX: Final = "?OTR"  # OTR data, queries and errors all start so
# Messages that are not a request from a person, even with a body (a
# reaction, a retraction or an invitation may carry a fallback text).
NOT_REQUESTS: Final = frozenset({
    "urn:xmpp:reactions:0",  # XEP-0444
    "urn:xmpp:carbons:2",  # XEP-0280: copies of our own conversations
    "urn:xmpp:message-retract:0",  # XEP-0424
    "urn:xmpp:message-retract:1",
    "http://jabber.org/protocol/muc#user",  # mediated invitations, MUC traffic
    "jabber:x:conference",  # XEP-0249 direct invitations
})  # fmt: skip
ANSWERED_TYPES: Final = ("chat", "normal")

ENCRYPTED_REPLY: Final = (
    "I cannot read encrypted messages. Please turn encryption off for this chat "
    "and send it again (Conversations: tap the lock icon or the menu, then "
    "'Unencrypted'; Gajim and Dino: click the lock beside the message field). "
    "What you send me is about your account only."
)


class Kind(StrEnum):
    COMMAND = "command"
    ENCRYPTED = "encrypted"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Incoming:
    kind: Kind
    text: str = ""  # the command as typed (kind COMMAND)
    receipt: bool = False  # the sender asked for a delivery receipt (XEP-0184)


IGNORED: Final = Incoming(Kind.IGNORED)


def read_message(msg: Any) -> Incoming:
    """What ``msg`` asks of the bot, and whether a receipt is owed for it."""
    if msg["type"] not in ANSWERED_TYPES:
        return IGNORED
    xml = msg.xml
    # One pass over the children (what every check below looks at), not one
    # search per namespace: this runs for every message the bot receives.
    tags = {child.tag for child in xml if isinstance(child.tag, str)}
    if any(tag.partition("}")[0][1:] in NOT_REQUESTS for tag in tags):
        return IGNORED
    receipt = bool(msg["id"]) and f"{{{RECEIPTS_NS}}}request" in tags
    body = msg["body"] or ""
    if _encrypted(xml, tags, body):
        return Incoming(Kind.ENCRYPTED, receipt=receipt)
    if not body:
        return Incoming(Kind.IGNORED, receipt=receipt)
    return Incoming(Kind.COMMAND, command_text(xml, body), receipt)


def _encrypted(xml: Any, tags: set[str], body: str) -> bool:
    if body.lstrip().startswith(OTR_PREFIX):
        return True
    if tags.isdisjoint(ENCRYPTED):
        return False
    # An OMEMO key exchange carries no payload and no body: nothing to answer.
    return bool(body.strip()) or any(
        xml.find(f"{{{ns}}}encrypted/{{{ns}}}payload") is not None for ns in OMEMO_NS
    )


def command_text(xml: Any, body: str) -> str:
    """The body without reply fallbacks (XEP-0461 ranges, XEP-0428) and quoted lines."""
    body = _strip_reply_fallback(xml, body)
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def _strip_reply_fallback(xml: Any, body: str) -> str:
    cuts: list[tuple[int, int]] = []
    for fallback in xml.findall(f"{{{FALLBACK_NS}}}fallback"):
        if fallback.get("for") != REPLY_NS:
            continue
        for part in fallback.findall(f"{{{FALLBACK_NS}}}body"):
            start, end = _int(part.get("start")), _int(part.get("end"))
            if start is not None and end is not None and 0 <= start <= end <= len(body):
                cuts.append((start, end))
    for start, end in sorted(cuts, reverse=True):
        body = body[:start] + body[end:]
    return body


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None

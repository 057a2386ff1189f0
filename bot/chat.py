"""The chat face: which incoming messages are commands, and their text."""

from __future__ import annotations

from typing import Any

FALLBACK_NS = "urn:xmpp:fallback:0"
REPLY_NS = "urn:xmpp:reply:0"
IGNORED_NS = (
    "urn:xmpp:reactions:0",  # XEP-0444 reactions are not commands
    "urn:xmpp:carbons:2",  # copies of our own conversations
    "urn:xmpp:receipts",  # delivery receipts
    "http://jabber.org/protocol/muc#user",  # invitations and MUC traffic
)


def command_text(msg: Any) -> str | None:
    """The command a person typed, or None for what is not a command.

    Reply fallbacks (XEP-0461 with XEP-0428 ranges) and quoted lines are cut
    before parsing; reactions, receipts, chat states and carbons are ignored.
    """
    if msg["type"] not in ("chat", "normal"):
        return None
    xml = msg.xml
    if any(xml.find(f"{{{ns}}}*") is not None for ns in IGNORED_NS):
        return None
    body = msg["body"]
    if not body:
        return None
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
    return int(text) if text is not None and text.isdigit() else None

"""Bare-JID normalisation: the one form of a JID that keys and ledgers use."""

from __future__ import annotations

from slixmpp.jid import JID, InvalidJID


class BadJID(ValueError):
    """Text that is not the bare JID of a user account."""


def normalise_jid(text: str) -> str:
    """The normalised bare JID (``Alice@Example.ORG/phone`` -> ``alice@example.org``).

    Accounts are user JIDs: a local part is required. Braces are refused
    because the JID is wrapped in braces inside keys (the Redis Cluster hash
    tag) and a brace in it would move the tag.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadJID("a JID like name@example.org is required")
    try:
        jid = JID(text.strip())
    except InvalidJID as exc:
        raise BadJID(f"not a valid JID: {exc}") from exc
    if not jid.local or not jid.domain:
        raise BadJID("a JID like name@example.org is required")
    bare = str(jid.bare)
    if "{" in bare or "}" in bare:
        raise BadJID("JIDs with braces are not supported")
    return bare

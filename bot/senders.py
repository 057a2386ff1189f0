"""Who is asking: a stanza's sender as the one key of its account.

Chat, ad-hoc commands, disco and presence all take the sender through
``sender_jid`` (``payments.jid.normalise_jid`` of the bare JID), so one
person is one account whichever way they write. A user whose address cannot
key an account (a brace would move the key's hash tag) is told so before
anything is written; a sender with no local part (a server, a component) is
not a person and gets no answer.
"""

from __future__ import annotations

from typing import Any

from payments.jid import BadJID, normalise_jid


def sender_jid(address: Any) -> str | None:
    """The normalised bare JID of a stanza's ``from``; None when it cannot key an account."""
    try:
        return normalise_jid(str(address.bare))
    except BadJID:
        return None


def refusal(address: Any) -> str | None:
    """What a sender ``sender_jid`` refuses is told; None for a server or a component."""
    if not address.local:
        return None
    try:
        normalise_jid(str(address.bare))
    except BadJID as exc:
        return f"Sorry, {address.bare} cannot hold an account here: {exc}."
    return None

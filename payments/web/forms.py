"""Form tokens of the account page: against cross-site requests and replays.

Each form carries a token ``NONCE.MAC``: a random nonce and an HMAC (``[web]
link_secret``) over the link's account, session and operator, the action the
form does (``pay``, ``buy:sms500``, ``confirm:credit:…``) and the nonce. So
a token works only with the link whose page showed it and only for that
action; another site cannot make one. Rendering stores nothing: the first
submission marks the nonce in Redis (``PageFormStore.take``), and a repeat
finds the mark and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

from payments.web.links import AccountLink

FIELD: Final = "form"  # the name of the token's hidden field
_DOMAIN: Final = b"accountbot page form:"
NONCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{16}", re.ASCII)


def _mac(secret: str, link: AccountLink, action: str, nonce: str) -> str:
    message = "\n".join([link.jid, link.session, link.operator, action, nonce])
    return hmac.new(secret.encode(), _DOMAIN + message.encode(), hashlib.sha256).hexdigest()


def form_token(secret: str, link: AccountLink, action: str) -> str:
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_mac(secret, link, action, nonce)}"


def form_nonce(secret: str, link: AccountLink, action: str, token: str) -> str | None:
    """The token's nonce when it was made for this link and this action; None otherwise."""
    nonce, dot, mac = token.partition(".")
    if not dot or not NONCE_RE.fullmatch(nonce) or not mac.isascii():
        return None
    expected = _mac(secret, link, action, nonce)
    return nonce if hmac.compare_digest(expected.encode(), mac.encode()) else None


def digest(*values: str) -> str:
    """What a confirmation binds: the exact values the operator was shown."""
    return hashlib.sha256("\x00".join(values).encode()).hexdigest()[:24]

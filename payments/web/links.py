"""Personal top-up links: signed (HMAC-SHA256 with ``[web] link_secret``) and expiring.

A link carries the JID, an expiry and optionally a preset amount:
``{public_url}/topup/{PAYLOAD}.{SIGNATURE}``, both parts unpadded base64url.
Anyone holding the link can pay into that account and nothing else, so it
may travel through chat; the signature stops anyone from changing the JID
or the amount, and the expiry bounds how long a forwarded link works.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from payments.clock import epoch
from payments.config import Config
from payments.money import Money

VERSION: Final = 1
_DOMAIN: Final = b"accountbot topup link:"  # keeps these MACs apart from other uses of the key
MAX_TOKEN: Final = 1024


class LinkProblem(StrEnum):
    TAMPERED = "tampered"  # not signed by us, or damaged on the way
    EXPIRED = "expired"


class BadLink(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class TopupLink:
    jid: str
    expires_at: int  # unix time
    amount_units: int = 0  # preset amount, 0 for none

    def amount(self, currency: str) -> Money | None:
        return Money(self.amount_units, currency) if self.amount_units else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), _DOMAIN + payload.encode(), hashlib.sha256).digest())


def sign_link(secret: str, link: TopupLink) -> str:
    data = {"v": VERSION, "j": link.jid, "e": link.expires_at, "a": link.amount_units}
    payload = _b64(json.dumps(data, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, payload)}"


def read_link(secret: str, token: str, now: int) -> TopupLink:
    """The link a token stands for; BadLink when it is not ours or has expired."""
    payload, dot, signature = token.partition(".")
    if not dot or len(token) > MAX_TOKEN or not token.isascii():
        raise BadLink(LinkProblem.TAMPERED)
    if not hmac.compare_digest(_mac(secret, payload).encode(), signature.encode()):
        raise BadLink(LinkProblem.TAMPERED)
    link = _decode(payload)
    if now >= link.expires_at:
        raise BadLink(LinkProblem.EXPIRED)
    return link


def _decode(payload: str) -> TopupLink:
    try:
        data: Any = json.loads(_unb64(payload))
        link = TopupLink(jid=data["j"], expires_at=data["e"], amount_units=data["a"])
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise BadLink(LinkProblem.TAMPERED) from None
    if data.get("v") != VERSION or not isinstance(link.jid, str):
        raise BadLink(LinkProblem.TAMPERED)
    if type(link.expires_at) is not int or type(link.amount_units) is not int:
        raise BadLink(LinkProblem.TAMPERED)
    return link


def topup_url(config: Config, jid: str, now: datetime, amount: Money | None = None) -> str:
    """The personal top-up link of ``jid``, valid ``[web] link_ttl_minutes`` from ``now``."""
    expires = now + timedelta(minutes=config.web.link_ttl_minutes)
    link = TopupLink(jid, epoch(expires), amount.units if amount else 0)
    token = sign_link(config.web.link_secret.reveal(), link)
    return f"{config.web.public_url.rstrip('/')}/topup/{token}"

"""Personal links: signed (HMAC-SHA256 with ``[web] link_secret``) and expiring.

A top-up link carries the JID, an expiry and optionally a preset amount:
``{public_url}/topup/{PAYLOAD}.{SIGNATURE}``, both parts unpadded base64url.
Anyone holding the link can pay into that account and nothing else, so it
may travel through chat; the signature stops anyone from changing the JID
or the amount, and the expiry bounds how long a forwarded link works.

An account-page link (``{public_url}/account/{PAYLOAD}.{SIGNATURE}``) carries
the JID, an expiry, a random session (the page's form tokens are bound to it)
and, on an operator's link, who acts. Each kind of link is signed under its
own domain (``LinkKind``): a top-up link is not an account link, nor the reverse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from payments.clock import epoch
from payments.config import Config
from payments.money import Money

VERSION: Final = 1
MAX_TOKEN: Final = 1024


class LinkKind(StrEnum):
    TOPUP = "topup"
    ACCOUNT = "account"
    CARD = "card"  # the page that saves a card

    @property
    def domain(self) -> bytes:
        """Keeps the MACs of each kind apart, and from other uses of the key."""
        return f"accountbot {self.value} link:".encode()


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


def _mac(secret: str, kind: LinkKind, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), kind.domain + payload.encode(), hashlib.sha256).digest())


def _sign(secret: str, kind: LinkKind, data: dict[str, object]) -> str:
    payload = _b64(json.dumps({"v": VERSION, **data}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(secret, kind, payload)}"


def _verified(secret: str, kind: LinkKind, token: str, now: int) -> dict[str, Any]:
    """The signed data of a token of ``kind``; BadLink when it is not ours or has expired."""
    payload, dot, signature = token.partition(".")
    if not dot or len(token) > MAX_TOKEN or not token.isascii():
        raise BadLink(LinkProblem.TAMPERED)
    if not hmac.compare_digest(_mac(secret, kind, payload).encode(), signature.encode()):
        raise BadLink(LinkProblem.TAMPERED)
    try:
        data: Any = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        raise BadLink(LinkProblem.TAMPERED) from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise BadLink(LinkProblem.TAMPERED)
    if type(data.get("e")) is not int or not isinstance(data.get("j"), str):
        raise BadLink(LinkProblem.TAMPERED)
    if now >= data["e"]:
        raise BadLink(LinkProblem.EXPIRED)
    return data


def sign_link(secret: str, link: TopupLink) -> str:
    data = {"j": link.jid, "e": link.expires_at, "a": link.amount_units}
    return _sign(secret, LinkKind.TOPUP, data)


def read_link(secret: str, token: str, now: int) -> TopupLink:
    """The top-up link a token stands for; BadLink when it is not ours or has expired."""
    data = _verified(secret, LinkKind.TOPUP, token, now)
    if type(data.get("a")) is not int:
        raise BadLink(LinkProblem.TAMPERED)
    return TopupLink(jid=data["j"], expires_at=data["e"], amount_units=data["a"])


def topup_url(config: Config, jid: str, now: datetime, amount: Money | None = None) -> str:
    """The personal top-up link of ``jid``, valid ``[web] link_ttl_minutes`` from ``now``."""
    expires = now + timedelta(minutes=config.web.link_ttl_minutes)
    link = TopupLink(jid, epoch(expires), amount.units if amount else 0)
    token = sign_link(config.web.link_secret.reveal(), link)
    return f"{config.web.public_url.rstrip('/')}/topup/{token}"


def card_url(config: Config, jid: str, now: datetime) -> str:
    """The personal link to the page that saves a card, valid ``[web] link_ttl_minutes``."""
    expires = now + timedelta(minutes=config.web.link_ttl_minutes)
    token = _sign(config.web.link_secret.reveal(), LinkKind.CARD, {"j": jid, "e": epoch(expires)})
    return f"{config.web.public_url.rstrip('/')}/cards/{token}"


def read_card_link(secret: str, token: str, now: int) -> str:
    """The JID of a card link; BadLink when it is not ours or has expired."""
    return str(_verified(secret, LinkKind.CARD, token, now)["j"])


@dataclass(frozen=True, slots=True)
class AccountLink:
    jid: str
    expires_at: int  # unix time
    session: str  # random, one per link: the page's form tokens are bound to it
    operator: str = ""  # who acts (``cli:USER``) on an operator's link; '' for the holder's


def sign_account_link(secret: str, link: AccountLink) -> str:
    data = {"j": link.jid, "e": link.expires_at, "s": link.session, "o": link.operator}
    return _sign(secret, LinkKind.ACCOUNT, data)


def read_account_link(secret: str, token: str, now: int) -> AccountLink:
    """The account-page link a token stands for; BadLink when it is not ours or has expired."""
    data = _verified(secret, LinkKind.ACCOUNT, token, now)
    session, operator = data.get("s"), data.get("o")
    if not isinstance(session, str) or not session or not isinstance(operator, str):
        raise BadLink(LinkProblem.TAMPERED)
    return AccountLink(data["j"], data["e"], session, operator)


def account_url(config: Config, jid: str, now: datetime, *, operator: str = "") -> str:
    """A new personal link to ``jid``'s account page (an operator's when ``operator`` is
    given), valid ``[web] link_ttl_minutes`` from ``now``."""
    expires = now + timedelta(minutes=config.web.link_ttl_minutes)
    link = AccountLink(jid, epoch(expires), secrets.token_urlsafe(12), operator)
    token = sign_account_link(config.web.link_secret.reveal(), link)
    return f"{config.web.public_url.rstrip('/')}/account/{token}"

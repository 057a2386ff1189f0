"""The command model: each command declared once, served by chat and by XEP-0050.

A command is data (name, help line, who may run it, typed parameters) plus
a handler that returns a ``Reply``: text, optionally a link and a table. The
chat adapter (``bot/chat.py``) parses text into the parameters; the ad-hoc
adapter (``bot/adhoc.py``) builds a XEP-0004 form from the same parameters.
Neither the handlers nor this module know about stanzas.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from payments.accounts.records import Account, AccountKind
from payments.config import Config
from payments.jid import BadJID, normalise_jid
from payments.ledger.records import Balances
from payments.money import InvalidAmount, Money, parse_money
from payments.stores import Store


class Role(StrEnum):
    STRANGER = "stranger"  # no account (or a closed one)
    TRIAL = "trial"
    PAID = "paid"  # pays for itself: a main account
    LEAF = "leaf"
    OPERATOR = "operator"  # listed in [operators] jids


ANYONE = frozenset(Role)
USERS = frozenset({Role.TRIAL, Role.PAID, Role.LEAF, Role.OPERATOR})
PAYERS = frozenset({Role.TRIAL, Role.PAID, Role.OPERATOR})  # hold a balance of their own
STRANGERS = frozenset({Role.STRANGER})
OPERATORS = frozenset({Role.OPERATOR})


def role_of(account: Account | None, is_operator: bool) -> Role:
    if is_operator:
        return Role.OPERATOR
    if account is None or not account.open:  # closed, or a move arriving at it
        return Role.STRANGER
    return {
        AccountKind.TRIAL: Role.TRIAL,
        AccountKind.PAID: Role.PAID,
        AccountKind.LEAF: Role.LEAF,
    }[account.kind]


class ParamKind(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"
    JID = "jid"
    MONTH = "month"  # YYYY-MM
    CODE = "code"
    CHOICE = "choice"


TRAILING: Final = ".?!,;:"  # what phones and habits add after a word


class BadArgument(ValueError):
    """An argument that does not parse; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    help: str
    kind: ParamKind = ParamKind.TEXT
    required: bool = True
    choices: tuple[str, ...] = ()
    rest: bool = False  # takes the rest of the chat line (free text)
    label: str = ""  # the form field's label (default: the name, capitalised)
    # Values known in advance for this asker (the plans on offer, the offers
    # made to them): a pick-list in forms instead of a typed id or code.
    options: Options | None = None

    def usage(self) -> str:
        shown = self.name.upper() if not self.choices else "|".join(self.choices)
        return shown if self.required else f"[{shown}]"

    @property
    def title(self) -> str:
        return self.label or self.name.capitalize()


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    url: str = ""  # also sent as XEP-0066 out-of-band data
    table: Table | None = None
    error: str = ""  # an XMPP error condition for ad-hoc callers (bad-request, forbidden...)
    command: str = ""  # what was asked, for logs and metrics (set by the dispatcher)

    @property
    def outcome(self) -> str:
        return self.error or "ok"


@dataclass
class Context:
    """What a handler knows about the request: who asks, and the services."""

    jid: str  # the asker's normalised bare JID
    role: Role
    account: Account | None
    store: Store
    config: Config
    now: datetime
    registry: Registry | None = None
    # Read with the account in the request's one round trip (chat), else None.
    balances: Balances | None = None
    plan_snapshot: Mapping[str, str] | None = None

    def money(self, units: int) -> Money:
        return self.config.money(units)

    @property
    def currency(self) -> str:
        """The asker's currency: ``config`` is the deployment's in it (``Config.in_currency``)."""
        return self.config.billing.currency


Handler = Callable[[Context, Mapping[str, Any]], Awaitable[Reply]]
Confirm = Callable[[Context, Mapping[str, Any]], Awaitable[str | Reply]]
Options = Callable[[Context], Awaitable[list[tuple[str, str]]]]  # (value, label) pairs


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one or two words: "balance", "admin credit"
    help: str
    access: frozenset[Role]
    handler: Handler
    params: tuple[Param, ...] = ()
    # Destructive or costly commands ask first: the question (or a Reply that
    # refuses before asking). Chat answers with "yes"; ad-hoc with a checkbox.
    confirm: Confirm | None = None
    # What a user whose role may not run it is told (operator commands are
    # never named to others: they get the unknown-command hint).
    unavailable: str = ""
    # The short capitalised name clients list ad-hoc commands by ("Top up");
    # ``help`` stays the description. Default: the name, capitalised.
    label: str = ""
    # The roles whose short ``help`` names this command: what they can do
    # now. Everything else they may run is in ``help more``.
    first: frozenset[Role] = frozenset()

    @property
    def title(self) -> str:
        return self.label or self.name.capitalize()

    @property
    def node(self) -> str:
        """The XEP-0050 node: the name with spaces as dashes."""
        return self.name.replace(" ", "-")

    def usage(self) -> str:
        return " ".join([self.name, *(p.usage() for p in self.params)])

    def allowed(self, role: Role) -> bool:
        return role in self.access


def convert(param: Param, raw: str, config: Config) -> Any:
    """Turn one typed or submitted value into the parameter's type.

    A trailing '.', '?' or '!' is dropped from ids, addresses, months and
    choices, never from an amount: "20." is refused, not guessed.
    """
    text = raw.strip()
    if param.kind is not ParamKind.AMOUNT and not param.rest:
        text = text.rstrip(TRAILING) or text
    if param.kind is ParamKind.AMOUNT:
        try:
            return parse_money(text, config.billing.currency, maximum=config.billing.max_amount)
        except InvalidAmount as exc:
            raise BadArgument(str(exc)) from None
    if param.kind is ParamKind.JID:
        try:
            return normalise_jid(text)
        except BadJID as exc:
            raise BadArgument(str(exc)) from None
    if param.kind is ParamKind.MONTH:
        return parse_month(text)
    if param.kind is ParamKind.CHOICE:
        if text.lower() not in param.choices:
            raise BadArgument(f"{param.name} must be {' or '.join(param.choices)}")
        return text.lower()
    if param.kind is ParamKind.CODE and not (4 <= len(text) <= 64 and text.isascii()):
        raise BadArgument(f"{param.name} is a code of letters and digits")
    return text


def parse_month(text: str) -> tuple[int, int]:
    year, dash, month = text.partition("-")
    if dash and year.isascii() and month.isascii() and year.isdigit() and month.isdigit():
        y, m = int(year), int(month)
        if len(year) == 4 and 1 <= m <= 12:
            return y, m
    raise BadArgument("a month is written YYYY-MM, like 2026-03")


class Registry:
    """The explicit list of commands (no import-time self-registration)."""

    def __init__(self, commands: Sequence[Command]) -> None:
        self.commands = list(commands)
        self._by_name = {c.name: c for c in commands}
        self._by_node = {c.node: c for c in commands}
        if len(self._by_name) != len(commands):
            raise ValueError("two commands share a name")

    def by_node(self, node: str) -> Command | None:
        return self._by_node.get(node)

    def for_role(self, role: Role) -> list[Command]:
        return [c for c in self.commands if c.allowed(role)]

    def match(self, words: Sequence[str]) -> tuple[Command | None, int]:
        """The command named by the first one or two words, and how many it used.

        As people type on phones: any case, a trailing '?' or '.', and a
        name written in two words ("Top up 20", "auto buy").
        """
        first = [trim_word(w) for w in words[:2]]
        if len(first) == 2 and (command := self._by_name.get(" ".join(first))):
            return command, 2
        if first and (command := self._by_name.get(first[0])):
            return command, 1
        if len(first) == 2 and (command := self._by_name.get("".join(first))):
            return command, 2
        return None, 0


def command_words(text: str) -> list[str]:
    """The words of a chat line; a leading '/' (IRC and Telegram habit) is dropped."""
    words = text.split()
    if words and words[0].startswith("/") and len(words[0]) > 1:
        words[0] = words[0][1:]
    return words


def trim_word(word: str) -> str:
    """A command name or a keyword as typed: lower case, without trailing punctuation."""
    return word.lower().rstrip(TRAILING)

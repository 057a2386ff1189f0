"""``notify``: what a user receives, and a choice changed (an account holder's only)."""

from __future__ import annotations

from dataclasses import dataclass

from payments.notices import NoticeChoice
from payments.notifications.rules import KINDS, Kind, choice_of
from payments.stores import Store


@dataclass(frozen=True, slots=True)
class Choices:
    kinds: tuple[tuple[Kind, bool], ...]  # each kind, and whether it is sent


async def choices_of(store: Store, jid: str) -> Choices:
    off = await store.choices.off(jid)
    return Choices(tuple((kind, kind.name not in off) for kind in KINDS))


async def set_choice(store: Store, jid: str, text: str, on: bool) -> tuple[NoticeChoice, bool]:
    """Turn a kind on or off; (the kind, whether it changed). UnknownKind, or NotAllowed
    for a kind that is always sent (the message says why)."""
    choice = choice_of(text)
    return choice, await store.choices.turn(jid, choice, on)

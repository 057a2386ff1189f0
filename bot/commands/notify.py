"""``notify [KIND on|off]``: the notices a user receives (payments/notifications/).

Handlers call ``payments.notifications.flow``; the outbox respects the choices
when notices are queued (docs/bot.md, Notifications).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.commands.model import USERS, Command, Context, Param, ParamKind, Reply, Table
from payments.notifications.flow import choices_of, set_choice
from payments.notifications.rules import KINDS, Kind

NO_ACCOUNT = "You have no account yet: send 'register' to start a trial."


async def kind_options(ctx: Context) -> list[tuple[str, str]]:
    """The kinds a user may turn off, as a pick-list."""
    return [(kind.name, f"{kind.name}: {kind.what}") for kind in KINDS if kind.optional]


def _state(kind: Kind, on: bool) -> str:
    return ("on" if on else "off") if kind.optional else "always"


def _lines(kinds: Sequence[tuple[Kind, bool]]) -> list[str]:
    """Within a phone screen: the kinds that may be turned off one a line, the others in one
    (the table, for clients that draw it, says what each kind holds)."""
    lines = [f"{k.name}: {_state(k, on)}" for k, on in kinds if k.optional]
    always = ", ".join(k.name for k, _on in kinds if not k.optional)
    return [*lines, f"Always sent: {always}."] if always else lines


async def notify(ctx: Context, args: Mapping[str, Any]) -> Reply:
    kind, state = args.get("kind"), args.get("state")
    if kind and state:
        choice, changed = await set_choice(ctx.store, ctx.jid, str(kind), state == "on")
        done = "" if changed else " already"
        return Reply(f"Notices of {choice.value} are{done} {state}.")
    if kind or state:
        return Reply("Send 'notify KIND on' or 'notify KIND off'.", error="bad-request")
    choices = await choices_of(ctx.store, ctx.jid)
    lines = ["Notices I send you:", *_lines(choices.kinds)]
    lines.append("To change one: 'notify usage off' (or on).")
    rows = tuple((k.name, _state(k, on), k.what) for k, on in choices.kinds)
    return Reply("\n".join(lines), table=Table(("kind", "state", "what"), rows))


COMMANDS = [
    Command(
        "notify",
        "the notices you receive; KIND on|off changes one",
        USERS,
        notify,
        (
            Param(
                "kind",
                "usage, low_balance, renewal or credits_expiring",
                required=False,
                label="Notices",
                options=kind_options,
            ),
            Param(
                "state",
                "on or off",
                ParamKind.CHOICE,
                required=False,
                choices=("on", "off"),
                label="Send them",
            ),
        ),
        unavailable=NO_ACCOUNT,
        label="Notices",
    ),
]

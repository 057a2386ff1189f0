"""From a sender and a command to a Reply: access, parsing, limits, errors.

Both faces of the bot (chat text and XEP-0050) end here, so access checks,
rate limits, the frozen-account line and the mapping of domain errors to
replies are written once. Nothing here knows about stanzas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.chat import ENCRYPTED_REPLY
from bot.commands.billing import frozen_line
from bot.commands.model import (
    BadArgument,
    Command,
    Context,
    Param,
    Registry,
    Reply,
    Role,
    command_words,
    convert,
    role_of,
    trim_word,
)
from payments.accounts.records import Account
from payments.clock import utcnow
from payments.config import Config
from payments.errors import InsufficientFunds, NotAllowed, PaymentsError
from payments.stores import Store

log = logging.getLogger(__name__)

HINT = "Send 'help' for the commands you can use."
FAILED = "Sorry, that failed on our side. Please try again in a moment."
PAID_FOR = "The account that pays for yours does that: ask it. Send 'numbers' to see who it is."
LIMIT_WINDOW = 60  # seconds: [bot] messages_per_minute
YES = frozenset({"yes", "y", "confirm"})
NO = frozenset({"no", "n", "cancel"})


class Dispatcher:
    def __init__(
        self,
        registry: Registry,
        store: Store,
        config: Config,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.store = store
        self.config = config
        self.clock = clock
        self.operators = frozenset(config.operators.jids)

    async def context(self, jid: str) -> Context:
        return self._context(jid, await self.store.accounts.get(jid))

    def _context(self, jid: str, account: Account | None, **read: Any) -> Context:
        role = role_of(account, jid in self.operators)
        config = self.config.in_currency(account.currency) if account else self.config
        return Context(jid, role, account, self.store, config, self.clock(), self.registry, **read)

    async def limited(self, jid: str) -> Reply | None:
        """None when the sender may go on; a Reply the first time it is over; else silence."""
        over = await self.store.botstate.hit(
            "msg",
            jid,
            limit=self.config.bot.messages_per_minute,
            window_seconds=LIMIT_WINDOW,
            now=time.time(),
        )
        return over_limit(over)

    async def enter(self, jid: str) -> tuple[Reply | None, Context]:
        """The rate limit and the context of a chat line in one round trip (``limited``
        and ``context`` together)."""
        request = await self.store.requests.enter(
            "msg",
            jid,
            limit=self.config.bot.messages_per_minute,
            window_seconds=LIMIT_WINDOW,
            now=time.time(),
        )
        read = {"balances": request.balances, "plan_snapshot": request.plan_snapshot}
        return over_limit(request.over), self._context(jid, request.account, **read)

    async def encrypted(self, jid: str) -> Reply | None:
        """An encrypted message: never read as a command, answered in plain text."""
        if (limited := await self.limited(jid)) is not None:
            return replace(limited, command="limited") if limited.text else None
        return Reply(ENCRYPTED_REPLY, command="encrypted")

    async def chat(self, jid: str, text: str) -> Reply | None:
        """Answer one chat line; None means say nothing (flooding). The reply names the
        command it answered (``unknown``, ``confirm``... when there was none)."""
        limited, ctx = await self.enter(jid)
        if limited is not None:
            return replace(limited, command="limited") if limited.text else None
        if len(text.encode("utf-8", "replace")) > self.config.bot.max_message_bytes:
            return Reply(f"That message is too long to be a command. {HINT}", command="too-long")
        words = command_words(text)
        if not words:
            return Reply(HINT, command="empty")
        if len(words) == 1 and (answer := trim_word(words[0])) in YES | NO:
            done = await self._confirmation(ctx, answer in YES)
            return done if done.command else replace(done, command="confirm")
        command, used = self.registry.match(words)
        if command is None or not command.allowed(ctx.role):
            refused = self._not_available(command, words[0], ctx.role)
            return await self._with_notice(ctx, replace(refused, command=_name(command)))
        try:
            args = parse_chat_args(command, _after_words(text, used), ctx.config)
        except BadArgument as exc:
            usage = f"{exc}. Usage: {command.usage()}"
            return Reply(usage, error="bad-request", command=command.name)
        if command.confirm is not None:
            return replace(await self._ask(ctx, command, args, text), command=command.name)
        return await self._with_notice(ctx, await self.run(command, ctx, args))

    @staticmethod
    def _not_available(command: Command | None, word: str, role: Role) -> Reply:
        if command is not None and role is Role.LEAF and command.allowed(Role.PAID):
            return Reply(PAID_FOR, error="not-allowed")
        if command is not None and command.unavailable:
            return Reply(command.unavailable, error="not-allowed")
        return Reply(f"Unknown command '{_clip(word)}'. {HINT}", error="item-not-found")

    async def run(self, command: Command, ctx: Context, args: Mapping[str, Any]) -> Reply:
        """Run a handler, mapping domain errors to short replies."""
        return replace(await self._run(command, ctx, args), command=command.name)

    async def _run(self, command: Command, ctx: Context, args: Mapping[str, Any]) -> Reply:
        try:
            return await command.handler(ctx, args)
        except InsufficientFunds as exc:
            return Reply(f"{exc}. Send 'topup' to add money.", error="payment-required")
        except NotAllowed as exc:
            return Reply(str(exc), error="forbidden")
        except PaymentsError as exc:
            return Reply(str(exc), error="not-acceptable")
        except Exception:
            log.exception("command %r failed for %s", command.name, ctx.jid)
            return Reply(FAILED, error="internal-server-error")

    async def _ask(
        self, ctx: Context, command: Command, args: Mapping[str, Any], line: str
    ) -> Reply:
        assert command.confirm is not None
        question = await command.confirm(ctx, args)
        if isinstance(question, Reply):
            return question
        await self.store.botstate.ask_confirmation(ctx.jid, line)
        return Reply(f"{question} Reply 'yes' to confirm or 'no' to cancel.")

    async def _confirmation(self, ctx: Context, confirmed: bool) -> Reply:
        line = await self.store.botstate.take_confirmation(ctx.jid)
        if line is None:
            return Reply(f"There is nothing to confirm. {HINT}")
        if not confirmed:
            return Reply("Cancelled; nothing was changed.")
        command, used = self.registry.match(line.split())
        if command is None or not command.allowed(ctx.role):
            return Reply(f"That command is no longer available. {HINT}")
        try:
            args = parse_chat_args(command, _after_words(line, used), ctx.config)
        except BadArgument as exc:
            return Reply(f"{exc}. Usage: {command.usage()}", error="bad-request")
        return await self._with_notice(ctx, await self.run(command, ctx, args))

    async def _with_notice(self, ctx: Context, reply: Reply) -> Reply:
        return await with_frozen_notice(ctx, reply)


def over_limit(over: int) -> Reply | None:
    """None within the limit; a Reply the first time over it; then silence (a flood)."""
    if over == 0:
        return None
    if over == 1:
        return Reply("Too many messages. Please wait a minute.", error="resource-constraint")
    return Reply("", error="resource-constraint")


async def with_frozen_notice(ctx: Context, reply: Reply) -> Reply:
    """A frozen account hears, on every interaction, one line: why, what is due, the fix.

    The context is read again after the command ran: a ``pay`` that unfroze
    the account must not be answered with "your account is frozen".
    """
    if ctx.account is None or not ctx.account.frozen or ctx.role is Role.OPERATOR:
        return reply
    ctx.account = await ctx.store.accounts.get(ctx.jid)
    notice = await frozen_line(ctx)
    if not notice or notice in reply.text:
        return reply
    return replace(reply, text=f"{notice}\n{reply.text}")


def parse_chat_args(command: Command, rest: str, config: Config) -> dict[str, Any]:
    """Positional words into the command's typed parameters."""
    params = command.params
    if not params:
        if rest.strip():
            raise BadArgument(f"'{command.name}' takes no arguments")
        return {}
    last_rest = params[-1].rest
    words = rest.split(maxsplit=len(params) - 1) if last_rest else rest.split()
    if len(words) > len(params):
        raise BadArgument("too many arguments")
    args: dict[str, Any] = {}
    for param, word in zip(params, words, strict=False):
        args[param.name] = convert(param, word, config)
    _check_required(params, args)
    return args


def _check_required(params: tuple[Param, ...], args: Mapping[str, Any]) -> None:
    missing = [p.name.upper() for p in params if p.required and p.name not in args]
    if missing:
        raise BadArgument(f"missing {' and '.join(missing)}")


def _name(command: Command | None) -> str:
    return command.name if command is not None else "unknown"


def _after_words(text: str, count: int) -> str:
    parts = text.split(maxsplit=count)
    return parts[count] if len(parts) > count else ""


def _clip(word: str, limit: int = 20) -> str:
    shown = "".join(ch if ch.isprintable() else "?" for ch in word)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"

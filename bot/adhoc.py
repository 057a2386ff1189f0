"""The XEP-0050 face: every command as an ad-hoc command with a XEP-0004 form.

We keep our own sessions instead of slixmpp's xep_0050 plugin, whose
finished sessions are never removed and which does not check that the JID
continuing a session is the one that started it (slixmpp 1.17). Here a
session belongs to one full JID, expires after ``SESSION_SECONDS``, and is
dropped as soon as the command completes or is cancelled.

Flow: execute -> (form of the parameters, if any) -> (confirmation, if the
command asks for one) -> completed, with the reply as a note, a result table
when there is one, and the link as XEP-0066 data.
"""

from __future__ import annotations

import re
import secrets
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slixmpp import Iq
from slixmpp.exceptions import XMPPError
from slixmpp.plugins.xep_0004.stanza.form import Form
from slixmpp.plugins.xep_0050.stanza import Command as CommandStanza
from slixmpp.plugins.xep_0066.stanza import OOB
from slixmpp.xmlstream import register_stanza_plugin

from bot.commands.model import BadArgument, Command, Context, Param, ParamKind, Reply, convert
from bot.dispatch import Dispatcher, with_frozen_notice
from bot.senders import refusal, sender_jid
from payments.config import Config

SESSION_SECONDS = 600
FIXED_WIDTH = 36
MAX_SESSIONS = 10_000
COMMANDS_NS = "http://jabber.org/protocol/commands"

FIELD_TYPES = {
    ParamKind.JID: "jid-single",
    ParamKind.CHOICE: "list-single",
}


@dataclass
class Session:
    owner: str  # the full JID that started it
    command: Command
    stage: str  # "params" or "confirm"
    expires: float
    args: dict[str, Any] = field(default_factory=dict)


class AdhocCommands:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.sessions: dict[str, Session] = {}

    async def handle(self, iq: Iq) -> Iq:
        """Answer one command IQ (the caller sends the returned reply)."""
        self._expire()
        asker = iq["from"]
        jid = sender_jid(asker)
        if jid is None:
            return self._refused(iq, refusal(asker) or "No such command.")
        limited, ctx = await self.dispatcher.enter(jid)  # one round trip, as a chat line
        if limited is not None:
            raise XMPPError("resource-constraint", "Too many requests. Please wait a minute.")
        command_iq = iq["command"]
        action = command_iq["action"] or "execute"
        session_id = command_iq["sessionid"]
        if not session_id:
            return await self._start(iq, ctx, command_iq["node"])
        session = self.sessions.get(session_id)
        if session is None:
            raise XMPPError("bad-request", "This form has expired. Please start the command again.")
        if session.owner != asker.full:
            raise XMPPError("forbidden", "This session belongs to someone else.")
        if action == "cancel":
            del self.sessions[session_id]
            return self._reply(iq, session.command, session_id, "canceled", note="Cancelled.")
        return await self._continue(iq, ctx, session_id, session)

    async def _start(self, iq: Iq, ctx: Context, node: str) -> Iq:
        command = self.dispatcher.registry.by_node(node)
        if command is None or not command.allowed(ctx.role):
            raise XMPPError("item-not-found", "No such command.")
        if not command.params and command.confirm is None:
            return await self._finish(iq, ctx, command, "", {})
        session_id = secrets.token_urlsafe(12)
        if len(self.sessions) >= MAX_SESSIONS:
            raise XMPPError("resource-constraint", "Too many open forms. Try again later.")
        session = Session(iq["from"].full, command, "params", time.monotonic() + SESSION_SECONDS)
        self.sessions[session_id] = session
        if not command.params:
            return await self._ask_confirmation(iq, ctx, session_id, session)
        notice = (await with_frozen_notice(ctx, Reply(""))).text.strip()
        form = await params_form(command, ctx, notice=notice)
        return self._reply(iq, command, session_id, "executing", form=form)

    async def _continue(self, iq: Iq, ctx: Context, session_id: str, session: Session) -> Iq:
        values = _submitted(iq)
        command = session.command
        if session.stage == "params":
            try:  # in the asker's currency
                session.args = parse_form(command.params, values, ctx.config)
            except FieldError as exc:
                form = await params_form(command, ctx, error=exc, typed=values)
                return self._reply(iq, command, session_id, "executing", form=form)
            if command.confirm is None:
                del self.sessions[session_id]
                return await self._finish(iq, ctx, command, session_id, session.args)
            return await self._ask_confirmation(iq, ctx, session_id, session)
        del self.sessions[session_id]
        if not _truthy(values.get("confirm")):
            return self._reply(
                iq, command, session_id, "completed", note="Cancelled; nothing changed."
            )
        return await self._finish(iq, ctx, command, session_id, session.args)

    async def _ask_confirmation(
        self, iq: Iq, ctx: Context, session_id: str, session: Session
    ) -> Iq:
        assert session.command.confirm is not None
        question = await session.command.confirm(ctx, session.args)
        if isinstance(question, Reply):
            del self.sessions[session_id]
            return self._result(iq, session.command, session_id, question)
        session.stage = "confirm"
        form = Form()
        form["type"] = "form"
        form["title"] = session.command.title
        form["instructions"] = question
        form.add_field(var="question", ftype="fixed", value=question)
        form.add_field(var="confirm", ftype="boolean", label="Yes, do it", value=False)
        return self._reply(iq, session.command, session_id, "executing", form=form)

    async def _finish(
        self, iq: Iq, ctx: Context, command: Command, session_id: str, args: Mapping[str, Any]
    ) -> Iq:
        if not command.allowed(ctx.role):  # the role may have changed since the form
            raise XMPPError("forbidden", "You may not run this command.")
        reply = await with_frozen_notice(ctx, await self.dispatcher.run(command, ctx, args))
        return self._result(iq, command, session_id or secrets.token_urlsafe(12), reply)

    def _result(self, iq: Iq, command: Command, session_id: str, reply: Reply) -> Iq:
        """Completed, the reply as a note (what clients show of a completed command);
        a table also as a result form, beside its text rendering."""
        form = table_form(command, reply) if reply.table is not None and not reply.error else None
        reply_iq = self._reply(
            iq,
            command,
            session_id,
            "completed",
            form=form,
            note=reply.text,
            note_type="error" if reply.error else "info",
        )
        if reply.url:
            reply_iq["command"]["oob"]["url"] = reply.url
        return reply_iq

    def _refused(self, iq: Iq, text: str) -> Iq:
        """A command refused before it starts, completed with the reason as a visible note."""
        out = iq.reply(clear=True)
        stanza = out["command"]
        stanza["node"] = iq["command"]["node"]
        stanza["sessionid"] = iq["command"]["sessionid"] or secrets.token_urlsafe(12)
        stanza["status"] = "completed"
        stanza["notes"] = [("error", text)]
        return out

    def _reply(
        self,
        iq: Iq,
        command: Command,
        session_id: str,
        status: str,
        *,
        form: Form | None = None,
        note: str = "",
        note_type: str = "info",
    ) -> Iq:
        out = iq.reply(clear=True)
        stanza = out["command"]
        stanza["node"] = command.node
        stanza["sessionid"] = session_id
        stanza["status"] = status
        if status == "executing":
            # A single <next/> action: some clients render a lone <complete/> badly.
            stanza["actions"] = ["next"]
        if note:
            stanza["notes"] = [(note_type, note)]
        if form is not None:
            stanza.append(form)
        return out

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self.sessions.items() if s.expires < now]:
            del self.sessions[key]


class FieldError(BadArgument):
    """A submitted value that does not parse: the form comes back with the error
    shown beside the field, and what was typed kept."""

    def __init__(self, param: Param, problem: str) -> None:
        super().__init__(f"{param.title}: {problem}.")
        self.param = param


async def params_form(
    command: Command,
    ctx: Context,
    *,
    notice: str = "",
    error: FieldError | None = None,
    typed: Mapping[str, Any] | None = None,
) -> Form:
    """The form of a command's parameters. What must be read (a frozen account's
    line, an error) goes in the instructions (profanity, Gajim show them) and
    as a fixed field (poezio shows only those), never only in a note."""
    form = Form()
    form["type"] = "form"
    form["title"] = command.title
    messages = [text for text in (notice, str(error or "")) if text]
    form["instructions"] = "\n".join(messages) or sentence(command.help)
    add_fixed_lines(form, "message", "\n".join(messages))
    for param in command.params:
        options = await param.options(ctx) if param.options is not None else []
        own = error if error is not None and error.param is param else None
        add_param_field(form, param, options, kept(typed, param), error=own)
    return form


def add_param_field(
    form: Form,
    param: Param,
    options: list[tuple[str, str]],
    value: str,
    *,
    error: FieldError | None = None,
) -> None:
    """No ``<required/>``: clients print it as "(required)" after every label, and a
    missing value comes back with its error anyway."""
    choices = options or [(c, c) for c in param.choices]
    ftype = "list-single" if choices else FIELD_TYPES.get(param.kind, "text-single")
    form.add_field(
        var=param.name,
        ftype=ftype,
        label=param.title,
        desc=str(error) if error is not None else param.help,
        options=[{"label": label, "value": value} for value, label in choices] or None,
        value=value,
    )


def kept(typed: Mapping[str, Any] | None, param: Param) -> str:
    """What the user typed for ``param`` (sent back with the form after an error)."""
    raw = (typed or {}).get(param.name)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    return "" if raw is None else str(raw)


def table_form(command: Command, reply: Reply) -> Form:
    """A result form: the reply's lines as fixed fields (poezio draws no table), then
    the table (Cheogram, Gajim); column vars without spaces."""
    assert reply.table is not None
    form = Form()
    form["type"] = "result"
    form["title"] = command.title
    add_fixed_lines(form, "line", reply.text)  # not also as instructions: shown twice then
    columns = [(column_var(c), c) for c in reply.table.columns]
    for var, column in columns:
        form.add_reported(var, label=column.capitalize(), ftype="text-single")
    for row in reply.table.rows:
        form.add_item({var: cell for (var, _), cell in zip(columns, row, strict=True)})
    return form


def add_fixed_lines(form: Form, prefix: str, text: str) -> None:
    """``text`` as fixed fields, one per line, cut to ``FIXED_WIDTH`` (poezio draws a
    fixed field on half of its window and cuts what is longer)."""
    lines = [
        part
        for line in text.splitlines()
        for part in textwrap.wrap(line, FIXED_WIDTH, subsequent_indent="  ") or [""]
    ]
    for number, line in enumerate(lines):
        form.add_field(var=f"{prefix}{number}", ftype="fixed", value=line)


def column_var(column: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", column.lower()))


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def parse_form(
    params: tuple[Param, ...], values: Mapping[str, Any], config: Config
) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for param in params:
        text = kept(values, param)
        if not text.strip():
            if param.required:
                raise FieldError(param, "please fill it in")
            continue
        try:
            args[param.name] = convert(param, text, config)
        except BadArgument as exc:
            raise FieldError(param, str(exc)) from None
    return args


def _submitted(iq: Iq) -> dict[str, Any]:
    if iq["command"].xml.find("{jabber:x:data}x") is None:
        return {}
    values: dict[str, Any] = iq["command"]["form"].get_values()
    return values


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def register_stanzas() -> None:
    register_stanza_plugin(Iq, CommandStanza)
    register_stanza_plugin(CommandStanza, Form, iterable=True)
    register_stanza_plugin(CommandStanza, OOB)

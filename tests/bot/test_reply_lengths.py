"""Every reply fits on a phone screen unless the person asked for a list.

A phone shows about a dozen lines of some 36 characters in a chat; a list
the person asked for (``help more``, ``history``, ``plans``...) may be longer.
Each role asks every command it may send, on the demo's accounts (a main on a
plan with usage and a leaf), and a frozen account hears its extra line too.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from accountbot.demo import prepare_demo
from bot.commands import build_registry
from bot.dispatch import Dispatcher
from payments.accounts.records import FreezeKind
from payments.billing import freezes
from payments.billing.cycle import Cycle
from payments.catalog.declared import apply_declared
from payments.config import load_config
from payments.stores import Store
from tests.support import ROOT

SCREEN_LINES = 12
SCREEN_WIDTH = 36
LISTS = {"help more", "history", "invoices", "plans", "credits", "numbers", "invites", "admin show"}
SENT = {  # a plausible line for each command that takes arguments
    "register": "register",
    "topup": "topup 25",
    "redeem": "redeem ABCDE-FGHIJ-KLMNO-PQRST",
    "plan": "plan plus",
    "history": "history",
    "add": "add someone@example.org",
    "invite": "invite 2",
    "revoke": "revoke ABCDEF-GHIJKL-MNOPQR-STUVWX",
    "accept": "accept ABCDEF-GHIJKL-MNOPQR-STUVWX",
    "decline": "decline ABCDEF-GHIJKL-MNOPQR-STUVWX",
    "remove": "remove demo-leaf@example.org",
    "buy": "buy sms500",
    "autobuy": "autobuy sms500 on",
    "admin show": "admin show demo@example.org",
    "admin credit": "admin credit demo@example.org 5 goodwill",
    "admin debit": "admin debit demo@example.org 1 correction",
    "admin price": "admin price basic 12",
    "admin freeze": "admin freeze trial@example.org violation spam",
    "admin unfreeze": "admin unfreeze trial@example.org violation",
}
MAIN, LEAF, TRIAL = "demo@example.org", "demo-leaf@example.org", "trial@example.org"
FROZEN, STRANGER, OPERATOR = "frozen@example.org", "nobody@example.org", "admin@example.org"


def screen_lines(text: str) -> int:
    return sum(len(textwrap.wrap(line, SCREEN_WIDTH)) or 1 for line in text.splitlines())


@pytest.mark.parametrize("who", [STRANGER, TRIAL, MAIN, LEAF, FROZEN, OPERATOR])
async def test_every_reply_fits_a_phone_screen_but_the_lists_asked_for(
    store: Store, who: str
) -> None:
    example = load_config(ROOT / "config.example.toml", env={})
    config = replace(example, bot=replace(example.bot, messages_per_minute=1000))
    now = datetime.now(UTC)
    await apply_declared(store, config, now)
    await prepare_demo(store, config, MAIN, LEAF, now)
    for jid in (TRIAL, FROZEN):
        await store.accounts.register_trial(jid, now, 30)
    cycle = Cycle(store, config.billing, "test")
    await freezes.operator_freeze(cycle, FROZEN, FreezeKind.VIOLATION, "spam reports", now)
    dispatcher = Dispatcher(build_registry(), store, config, clock=lambda: now)
    ctx = await dispatcher.context(who)
    asked = 0
    for command in dispatcher.registry.for_role(ctx.role):
        reply = await dispatcher.chat(who, SENT.get(command.name, command.name))
        assert reply is not None and reply.text, command.name
        assert reply.error != "resource-constraint"
        if command.name not in LISTS:
            assert screen_lines(reply.text) <= SCREEN_LINES, (command.name, reply.text)
        if reply.text.endswith("Reply 'yes' to confirm or 'no' to cancel."):
            cancelled = await dispatcher.chat(who, "no")
            assert cancelled is not None and screen_lines(cancelled.text) <= SCREEN_LINES
        asked += 1
    assert asked >= 3

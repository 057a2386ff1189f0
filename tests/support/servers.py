"""Both XMPP servers for the end-to-end tests, and the bot in both modes on each.

The main end-to-end scenarios run four times: Prosody and ejabberd (Debian's
packages), each with the bot as a XEP-0114 component and as a client account.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from accountbot.stack import Stack
from payments.config import load_config
from tests.support import ROOT
from tests.support.bots import bot_config, running_bot

OPERATORS = ("admin@localhost",)
MODES = ("component", "client")
CLIENT_RESOURCE = "accountbot"  # where a client-mode bot serves its ad-hoc commands


@contextmanager
def started_stack(server: str) -> Iterator[Stack]:
    """A stack of its own on ``server``, removed afterwards."""
    root = ROOT / ".local" / f"test-{server}-{secrets.token_hex(4)}"
    stack = Stack(root, server=server)
    try:
        stack.start(operators=OPERATORS)
        yield stack
    finally:
        stack.stop()
        if os.environ.get("ACCOUNTBOT_KEEP_TEST_STACK") is None:
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class Bot:
    server: str
    mode: str
    jid: str  # where people send chat messages and presence
    adhoc_jid: str  # where ad-hoc commands are listed and run
    config: Path


def bot_of(stack: Stack, tmp: Path, mode: str) -> Bot:
    config = bot_config(stack, tmp, mode)
    jid = load_config(config, env={}).xmpp.jid
    adhoc = jid if mode == "component" else f"{jid}/{CLIENT_RESOURCE}"
    return Bot(stack.xmpp.name, mode, jid, adhoc, config)


@contextmanager
def serving_bot(stack: Stack, tmp: Path, mode: str) -> Iterator[Bot]:
    bot = bot_of(stack, tmp, mode)
    with running_bot(stack, bot.config):
        yield bot

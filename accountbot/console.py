"""``accountbot console``: a terminal chat with the bot, as a given user.

Line-based: each line typed is sent to the bot; its replies and its
notifications are printed as they arrive. Ctrl-D ends the session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from pathlib import Path
from typing import Any

import slixmpp

from accountbot.common import EXIT_OK, CliError, Commands, common
from accountbot.stack import StackError, read_json

LOOPBACK = ("127.0.0.1", "::1", "localhost")
PROMPT = "> "


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    console = common(commands.add_parser("console", help="chat with the bot from this terminal"))
    console.add_argument("jid", help="the user to log in as, e.g. alice@localhost")
    console.add_argument("--password", help="default: $ACCOUNTBOT_CONSOLE_PASSWORD, or asked")
    console.add_argument(
        "--local",
        default=os.environ.get("ACCOUNTBOT_LOCAL", ".local"),
        help="local stack whose stack.json names the server and the bot",
    )
    console.add_argument("--host", help="XMPP server (default: from stack.json)")
    console.add_argument("--port", type=int, help="its client port (default: from stack.json)")
    console.add_argument("--bot", help="the bot's JID (default: from stack.json)")
    console.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    host, port, bot = _endpoints(args)
    password = args.password or os.environ.get("ACCOUNTBOT_CONSOLE_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {args.jid}: ")
    return asyncio.run(chat(args.jid, password, host, port, bot))


def _endpoints(args: argparse.Namespace) -> tuple[str, int, str]:
    info: dict[str, Any] = {}
    if not (args.host and args.port and args.bot):
        try:
            info = read_json(Path(args.local))
        except StackError as exc:
            raise CliError(f"{exc} (or give --host, --port and --bot)") from None
    return (
        args.host or info["xmpp_host"],
        args.port or int(info["xmpp_port"]),
        args.bot or info["bot_jid"],
    )


class ConsoleClient(slixmpp.ClientXMPP):
    def __init__(self, jid: str, password: str, bot: str, plain: bool) -> None:
        super().__init__(jid, password)
        self.bot = bot
        self.register_plugin("xep_0066")  # links arrive as out-of-band data too
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if plain:  # no TLS on a loopback test server
            self.plugin["feature_mechanisms"].unencrypted_plain = True
        self.add_event_handler("session_start", self._started)
        self.add_event_handler("failed_auth", self._failed)
        self.add_event_handler("message", self._message)

    def _started(self, _event: Any) -> None:
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(True)

    def _failed(self, _event: Any) -> None:
        if not self.ready.done():
            self.ready.set_exception(CliError(f"login refused for {self.boundjid.bare}"))

    def _message(self, msg: Any) -> None:
        if msg["type"] == "error":
            show(f"! {msg['error']['condition']}: {msg['error']['text']}")
        elif msg["body"]:
            url = msg["oob"]["url"]
            extra = f"\n  link: {url}" if url and url not in msg["body"] else ""
            show(f"{msg['from'].bare}: {msg['body']}{extra}".replace("\n", "\n  "))


def show(text: str) -> None:
    sys.stdout.write(f"\r{text}\n{PROMPT}")
    sys.stdout.flush()


async def chat(jid: str, password: str, host: str, port: int, bot: str) -> int:
    client = ConsoleClient(jid, password, bot, plain=host in LOOPBACK)
    client.connect(host, port)
    try:
        await asyncio.wait_for(client.ready, 20)
    except TimeoutError:
        raise CliError(f"could not log in to {host}:{port} as {jid}") from None
    print(f"Connected as {jid}. Type a command for {bot} ('help'); Ctrl-D to quit.")
    show("")
    await _read_lines(client)
    client.disconnect()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.disconnected, 5)
    print("\nbye")
    return EXIT_OK


async def _read_lines(client: ConsoleClient) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():  # b"" at Ctrl-D
        text = line.decode("utf-8", "replace").strip()
        if text:
            client.send_message(mto=slixmpp.JID(client.bot), mbody=text, mtype="chat")
        else:
            show("")

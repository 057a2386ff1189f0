"""``accountbot dev ...``: the local stack for development, demos and tests."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from accountbot.cli import EXIT_OK, CliError, common
from accountbot.stack import Stack, StackError, pid_alive, read_json, stop_from_json

DEFAULT_LOCAL = ".local"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = common(commands.add_parser("dev", help="the local development stack"))
    dev.add_argument(
        "--local",
        default=os.environ.get("ACCOUNTBOT_LOCAL", DEFAULT_LOCAL),
        help="folder of the local stack (default .local)",
    )
    sub = dev.add_subparsers(dest="dev_command", required=True, metavar="ACTION")
    sub.add_parser(
        "up", help="start Redis, Prosody and the services in the background"
    ).set_defaults(handler=up)
    sub.add_parser("down", help="stop what 'up' started").set_defaults(handler=down)
    adduser = sub.add_parser("adduser", help="create an XMPP user; prints JID PASSWORD")
    adduser.add_argument("name")
    adduser.add_argument("--password", help="default: a random one")
    adduser.set_defaults(handler=adduser_cmd)


def up(args: argparse.Namespace) -> int:
    local = Path(args.local)
    try:
        info = read_json(local)
    except StackError:
        info = {}
    if any(pid_alive(int(pid)) for pid in info.get("pids", {}).values()):
        raise CliError(f"a local stack is already running ({local}/stack.json): 'make down' first")
    stack = Stack(local / "stack", persistent=True)
    try:
        stack.start(detached=True)
    except StackError as exc:
        raise CliError(str(exc)) from None
    path = stack.write_json()
    print(f"local stack up: redis {stack.redis.url}, xmpp 127.0.0.1:{stack.prosody.c2s_port}")
    print(f"config {stack.config_path}; details in {path}; stop with 'make down'")
    return EXIT_OK


def down(args: argparse.Namespace) -> int:
    try:
        stopped = stop_from_json(Path(args.local))
    except StackError as exc:
        print(f"nothing to stop: {exc}")
        return EXIT_OK
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return EXIT_OK


def adduser_cmd(args: argparse.Namespace) -> int:
    from accountbot.stack import ProsodyServer

    try:
        info = read_json(Path(args.local))
    except StackError as exc:
        raise CliError(str(exc)) from None
    if not pid_alive(int(info.get("pids", {}).get("prosody", 0))):
        raise CliError("the local stack's Prosody is not running: run 'make up'")
    prosody = ProsodyServer(Path(info["root"]), domain=info["domain"])
    try:
        jid, password = prosody.adduser(args.name, args.password)
    except StackError as exc:
        raise CliError(str(exc)) from None
    print(f"{jid} {password}")
    return EXIT_OK

"""``accountbot dev ...``: the local stack for development, demos and tests."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from accountbot.common import EXIT_OK, CliError, Commands, common, opened
from accountbot.console import chat
from accountbot.demo import Demo, prepare_demo
from accountbot.stack import Stack, StackError, pid_alive, read_json, stop_from_json
from accountbot.xmpp_servers import SERVERS, server_from_json
from payments.catalog.declared import prepare_catalog
from payments.clock import utcnow
from payments.config import ConfigError, load_config

DEFAULT_LOCAL = ".local"


def add_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    dev = common(commands.add_parser("dev", help="the local development stack"))
    dev.add_argument(
        "--local",
        default=os.environ.get("ACCOUNTBOT_LOCAL", DEFAULT_LOCAL),
        help="folder of the local stack (default .local)",
    )
    sub = dev.add_subparsers(dest="dev_command", required=True, metavar="ACTION")
    up_cmd = sub.add_parser("up", help="start Redis, XMPP and the services in the background")
    server_option(up_cmd)
    up_cmd.add_argument(
        "--cluster",
        action="store_true",
        help="a local Redis Cluster (3 masters, 3 replicas) instead of one redis-server",
    )
    up_cmd.set_defaults(handler=up)
    sub.add_parser("down", help="stop what 'up' started").set_defaults(handler=down)
    adduser = sub.add_parser("adduser", help="create an XMPP user; prints JID PASSWORD")
    adduser.add_argument("name")
    adduser.add_argument("--password", help="default: a random one")
    adduser.set_defaults(handler=adduser_cmd)
    add_demo(sub)


def up(args: argparse.Namespace) -> int:
    local = Path(args.local)
    try:
        info = read_json(local)
    except StackError:
        info = {}
    if any(pid_alive(int(pid)) for pid in info.get("pids", {}).values()):
        raise CliError(f"a local stack is already running ({local}/stack.json): 'make down' first")
    stack = Stack(local / "stack", persistent=True, server=args.server, cluster=args.cluster)
    try:
        start_all(stack, detached=True, operators=(f"{DEMO_OPERATOR}@{stack.xmpp.domain}",))
    except (StackError, ConfigError) as exc:
        stack.stop()
        raise CliError(str(exc)) from None
    path = stack.write_json()
    print(
        f"local stack up: redis {stack.redis.url}, "
        f"{stack.xmpp.name} 127.0.0.1:{stack.xmpp.c2s_port}, "
        f"bot {stack.bot_jid}, web {stack.web_url}"
    )
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
    try:
        info = read_json(Path(args.local))
    except StackError as exc:
        raise CliError(str(exc)) from None
    server = server_from_json(info)
    if not pid_alive(int(info.get("pids", {}).get(server.name, 0))):
        raise CliError(f"the local stack's {server.name} is not running: run 'make up'")
    try:
        jid, password = server.adduser(args.name, args.password)
    except StackError as exc:
        raise CliError(str(exc)) from None
    print(f"{jid} {password}")
    return EXIT_OK


DEMO_USER = "demo"
DEMO_LEAF = "demo-leaf"
DEMO_OPERATOR = "admin"


def add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="start everything and chat with the bot as a demo user")
    server_option(demo)
    demo.set_defaults(handler=demo_cmd)


def server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=os.environ.get("ACCOUNTBOT_XMPP_SERVER", "prosody"),
        help="the XMPP server to run (default prosody, or $ACCOUNTBOT_XMPP_SERVER)",
    )


def demo_cmd(args: argparse.Namespace) -> int:
    """The local stack in the foreground, the demo's accounts, and the console.

    Everything started here is a child of this process and stops with it
    (Ctrl-D in the console, Ctrl-C, or a kill); Redis keeps its data (AOF)
    in .local/demo-SERVER for the next demo.
    """
    stack = Stack(Path(args.local) / f"demo-{args.server}", persistent=True, server=args.server)
    operator = f"{DEMO_OPERATOR}@{stack.xmpp.domain}"
    try:
        start_all(stack, detached=False, operators=(operator,))
        user, password = fresh_user(stack, DEMO_USER)
        leaf, _ = fresh_user(stack, DEMO_LEAF)
        _, operator_password = fresh_user(stack, DEMO_OPERATOR)
        demo = asyncio.run(demo_accounts(stack, user, leaf))
        print(
            f"Local stack: {stack.xmpp.name} 127.0.0.1:{stack.xmpp.c2s_port}, "
            f"bot {stack.bot_jid}, web {stack.web_url}, redis {stack.redis.url}"
        )
        print(
            f"Operator: {operator} / {operator_password} (another terminal: "
            f".venv/bin/accountbot console {operator} --host 127.0.0.1 "
            f"--port {stack.xmpp.c2s_port} --bot {stack.bot_jid})"
        )
        print(demo.summary())
        print("Try: help, balance, usage, invoices, numbers, plans, topup 10")
        return asyncio.run(chat(user, password, "127.0.0.1", stack.xmpp.c2s_port, stack.bot_jid))
    except StackError as exc:
        raise CliError(str(exc)) from None
    finally:
        stack.stop()
        print("demo stopped")


# The services of the stack and the log line each writes once it serves.
APP_READY = {"bot": "connected as", "web": "web service up"}


def start_all(stack: Stack, *, detached: bool, operators: tuple[str, ...]) -> None:
    """Redis and XMPP, the catalog of the config, then the bot and the web service."""
    stack.start(detached=detached, operators=operators)
    asyncio.run(catalog(stack))
    for app, ready in APP_READY.items():
        stack.start_app(app, detached=detached).wait_for(ready)


async def catalog(stack: Stack) -> None:
    config = load_config(stack.config_path, env={})
    async with opened(config) as store:
        await prepare_catalog(store, config, utcnow())


def fresh_user(stack: Stack, name: str) -> tuple[str, str]:
    """Create ``name`` with a new password (the demo's XMPP data persists)."""
    stack.xmpp.deluser(name)
    return stack.xmpp.adduser(name)


async def demo_accounts(stack: Stack, user: str, leaf: str) -> Demo:
    config = load_config(stack.config_path, env={})
    async with opened(config) as store:
        return await prepare_demo(store, config, user, leaf, utcnow())

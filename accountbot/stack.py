"""The local stack: redis-server, an XMPP server (Prosody or ejabberd) and
(optionally) the bot and web service.

One piece of code starts it for the tests (children of the test run, gone
with it), for ``make demo`` (children of the console) and for ``make up``
(detached, stopped by ``make down`` from the pids in ``stack.json``). Every
server listens on loopback on free ports; config is generated under the
stack's folder in ``.local/``.
"""

from __future__ import annotations

import json
import secrets
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accountbot.processes import Child, StackError, free_port, pid_alive, stop_pid, wait_reaped
from accountbot.redis_servers import LocalCluster, RedisServer
from accountbot.xmpp_servers import XmppServer, make_server

__all__ = [
    "Child",
    "LocalCluster",
    "RedisServer",
    "Stack",
    "StackError",
    "free_port",
    "pid_alive",
]

STACK_JSON = "stack.json"  # written beside the stack's folder: .local/stack.json


@dataclass
class Stack:
    """Redis and an XMPP server (and the apps, when asked) under one folder of ``.local/``."""

    root: Path
    persistent: bool = False
    cluster: bool = False  # a local Redis Cluster (3 masters, 3 replicas) instead of one node
    redis: RedisServer | LocalCluster = field(init=False)
    server: str = "prosody"  # or "ejabberd"
    xmpp: XmppServer = field(init=False)
    apps: list[Child] = field(default_factory=list)
    web_port: int = field(default_factory=free_port)
    bot_metrics_port: int = field(default_factory=free_port)
    config_path: Path = field(init=False)
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.redis = (
            LocalCluster(self.root)
            if self.cluster
            else RedisServer(self.root, persistent=self.persistent)
        )
        self.xmpp = make_server(self.server, self.root)
        self.config_path = self.root / "config.toml"

    @property
    def prosody(self) -> XmppServer:
        """The name the older tests use (until they say ``xmpp``)."""
        return self.xmpp

    @property
    def bot_jid(self) -> str:
        return self.xmpp.component

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def bot_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.bot_metrics_port}/metrics"

    @property
    def textfile_dir(self) -> Path:
        """Where the chores of this stack write their node-exporter textfiles."""
        return self.root / "textfiles"

    def start(self, *, detached: bool = False, operators: tuple[str, ...] = ()) -> None:
        try:
            self.redis.start(detached=detached)
            self.xmpp.start(detached=detached)
        except BaseException:
            self.stop()
            raise
        self.write_config(operators=operators)

    def write_config(
        self,
        *,
        operators: tuple[str, ...] = (),
        path: Path | None = None,
        **sections: dict[str, Any],
    ) -> Path:
        """Write an accountbot config for this stack; ``sections`` override tables."""
        self.secrets.setdefault("link", secrets.token_urlsafe(32))
        self.secrets.setdefault("gateway", secrets.token_urlsafe(32))
        path = path or self.config_path
        path.write_text(render_config(self, operators=operators, overrides=sections), "utf-8")
        path.chmod(0o600)
        return path

    def client_mode_sections(self, name: str = "accountbot") -> dict[str, dict[str, Any]]:
        """Config tables for a bot that logs in as a client account (created here)."""
        jid, password = self.xmpp.adduser(name)
        xmpp = {
            "mode": "client",
            "jid": jid,
            "password": password,
            "host": "127.0.0.1",
            "port": self.xmpp.c2s_port,
            "plain_auth_on_loopback": True,
        }
        return {"xmpp": xmpp}

    def start_app(
        self,
        name: str,
        *args: str,
        detached: bool = False,
        config: Path | None = None,
        label: str = "",
    ) -> Child:
        """Start ``accountbot NAME`` with this stack's config (the bot, the web service);
        ``label`` names the process and its log when several run the same command."""
        config = config or self.config_path
        argv = [sys.executable, "-m", "accountbot", name, "--config", str(config), *args]
        label = label or name
        child = Child(label, argv, self.root / f"{label}-{config.stem}.log", detached)
        child.start()
        self.apps.append(child)
        return child

    def stop(self) -> None:
        for child in [*reversed(self.apps), self.xmpp.child, *self.redis.children]:
            if child is not None:
                child.stop()
        self.apps.clear()

    def describe(self) -> dict[str, Any]:
        children = [c for c in [*self.redis.children, self.xmpp.child, *self.apps] if c]
        return {
            "xmpp_host": "127.0.0.1",
            "xmpp_server": self.xmpp.name,
            "xmpp_port": self.xmpp.c2s_port,
            "component_port": self.xmpp.component_port,
            "domain": self.xmpp.domain,
            "bot_jid": self.bot_jid,
            "web_url": self.web_url,
            "bot_metrics_url": self.bot_metrics_url,
            "chores_textfile_dir": str(self.textfile_dir),
            "redis_url": self.redis.url,
            "redis_cluster": self.cluster,
            "config": str(self.config_path),
            **self.xmpp.describe(),
            "root": str(self.root),
            "pids": {c.name: c.pid for c in children},
        }

    def write_json(self) -> Path:
        path = self.root.parent / STACK_JSON
        path.write_text(json.dumps(self.describe(), indent=2) + "\n", "utf-8")
        return path


def render_config(
    stack: Stack, *, operators: tuple[str, ...], overrides: dict[str, dict[str, Any]]
) -> str:
    sections: dict[str, dict[str, Any]] = {
        "xmpp": {
            "mode": "component",
            "jid": stack.xmpp.component,
            "secret": stack.xmpp.component_secret,
            "host": "127.0.0.1",
            "port": stack.xmpp.component_port,
        },
        "redis": {"url": stack.redis.url},
        "web": {
            "host": "127.0.0.1",
            "port": stack.web_port,
            "public_url": stack.web_url,
            "link_secret": stack.secrets["link"],
        },
        "billing": {"currencies": ["USD", "CAD"]},
        "providers.test": {"enabled": True},
        "operators": {"jids": list(operators)},
        "gateway": {"token": stack.secrets["gateway"]},
        "metrics": {
            "bot_port": stack.bot_metrics_port,
            "chores_textfile_dir": str(stack.textfile_dir),
        },
        "ledger": {"archive_dir": str(stack.root / "ledger-archive")},
    }
    for name, values in overrides.items():
        sections.setdefault(name, {}).update(values)
    lines = ["# Generated by accountbot.stack for the local stack: loopback only."]
    for name, values in sections.items():
        lines += [f"\n[{name}]", *_pairs(values)]
    for name, tables in example_catalog().items():
        for table in tables:
            lines += [f"\n[[{name}]]", *_pairs(table)]
    return "\n".join(lines) + "\n"


# The local stacks (make up, make demo, the tests') sell what the example config
# declares: one catalog to read and to change.
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config.example.toml"


def example_catalog() -> dict[str, list[dict[str, Any]]]:
    """The ``[[plans]]`` and ``[[packs]]`` of ``config.example.toml``."""
    example = tomllib.loads(EXAMPLE_CONFIG.read_text("utf-8"))
    return {name: list(example.get(name, [])) for name in ("plans", "packs")}


def _pairs(values: dict[str, Any]) -> list[str]:
    return [f"{key} = {_toml(value)}" for key, value in values.items()]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def read_json(local: Path) -> dict[str, Any]:
    path = local / STACK_JSON
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise StackError(f"no local stack is running ({path} is missing): run 'make up'") from None
    except json.JSONDecodeError as exc:
        raise StackError(f"{path} is not valid JSON: {exc}") from None
    return data


def stop_from_json(local: Path) -> list[str]:
    """Stop every process recorded in ``.local/stack.json`` (``make down``)."""
    info = read_json(local)
    stopped = []
    for name, pid in reversed(list(info.get("pids", {}).items())):
        if pid_alive(int(pid)):
            stop_pid(int(pid), 10.0)
            stopped.append(name)
        wait_reaped(int(pid))
    (local / STACK_JSON).unlink(missing_ok=True)
    return stopped

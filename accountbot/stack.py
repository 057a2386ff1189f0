"""The local stack: redis-server, Prosody and (optionally) the bot and web service.

One piece of code starts it for the tests (children of the test run, gone
with it), for ``make demo`` (children of the console) and for ``make up``
(detached, stopped by ``make down`` from the pids in ``stack.json``). Every
server listens on loopback on free ports; config is generated under the
stack's folder in ``.local/``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOMAIN = "localhost"
COMPONENT = f"accounts.{DOMAIN}"
STACK_JSON = "stack.json"  # written beside the stack's folder: .local/stack.json


class StackError(RuntimeError):
    """A server of the local stack did not start or stop as it should."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # PR_SET_PDEATHSIG: a test run that is killed takes its servers with it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


@dataclass
class Child:
    """A server process we started: its log goes to a file beside its config."""

    name: str
    argv: list[str]
    log: Path
    detached: bool = False
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    pid: int = 0
    log_offset: int = 0

    def start(self) -> None:
        self.log_offset = self.log_size()  # the log may hold an earlier run's lines
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=None if self.detached else _die_with_parent,
                env=self.env,
            )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return pid_alive(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        stop_pid(self.pid, timeout, self.proc)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def wait_for(self, text: str, *, after: int | None = None, timeout: float = 30.0) -> None:
        """Wait until this run's log shows ``text`` (past byte ``after``); fail if it dies."""
        after = self.log_offset if after is None else after
        deadline = time.monotonic() + timeout
        needle = text.encode()
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError), self.log.open("rb") as log:
                log.seek(after)
                if needle in log.read():
                    return
            if not self.alive():
                raise StackError(f"{self.name} exited:\n{self.tail(40)}")
            time.sleep(0.05)
        raise StackError(f"{self.name} never logged {text!r}:\n{self.tail(40)}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie of ours still answers kill(0): reap it if it is our child.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _wait_reaped(pid: int, timeout: float = 5.0) -> None:
    """Detached servers are reaped by init: wait until no zombie is left in ps."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def stop_pid(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM, wait, then SIGKILL: nothing of ours stays running."""
    if not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return
        if proc is None and not pid_alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(5)


def wait_until(check: Callable[[], bool], what: str, child: Child, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise StackError(f"{what} exited while starting:\n{child.tail()}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.05)
    raise StackError(f"{what} did not answer within {timeout:.0f}s:\n{child.tail()}")


def _talk(port: int, send: bytes, expect: bytes, timeout: float = 2.0) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(send)
        received = b""
        while expect not in received:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            received += chunk
        return True


@dataclass
class RedisServer:
    root: Path
    persistent: bool = False  # AOF for the demo; nothing on disk for tests
    port: int = field(default_factory=free_port)
    child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, detached: bool = False) -> None:
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.root / "redis.conf"
        persistence = (
            'appendonly yes\nappendfsync everysec\nsave ""\n'
            if self.persistent
            else 'appendonly no\nsave ""\n'
        )
        conf.write_text(
            f"bind 127.0.0.1\nport {self.port}\nprotected-mode yes\ndaemonize no\n"
            f"dir {data}\n{persistence}"
        )
        self.child = Child("redis", ["redis-server", str(conf)], self.root / "redis.log", detached)
        self.child.start()
        wait_until(lambda: _talk(self.port, b"PING\r\n", b"+PONG"), "redis-server", self.child)


PROSODY_CONFIG = """\
-- Generated by accountbot.stack for a throwaway loopback server. Do not edit.
run_as_root = true
daemonize = false
pidfile = "{root}/prosody.pid"
data_path = "{root}/prosody-data"
certificates = "{root}/certs"
log = {{ {loglevel} = "{root}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s_port} }}
component_ports = {{ {component_port} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "posix"; "carbons"; "limits" }}
modules_disabled = {{ "s2s"; "tls" }}
-- Plain authentication without TLS: acceptable only because every port of
-- this server is bound to 127.0.0.1.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
-- The bot and the tests' clients exchange many messages quickly.
limits = {{ c2s = {{ rate = "10mb/s" }}; s2sin = {{ rate = "10mb/s" }} }}

VirtualHost "{domain}"

Component "{component}"
    component_secret = "{component_secret}"
"""


@dataclass
class ProsodyServer:
    root: Path
    domain: str = DOMAIN
    component: str = COMPONENT
    c2s_port: int = field(default_factory=free_port)
    component_port: int = field(default_factory=free_port)
    component_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    child: Child | None = None

    @property
    def config_path(self) -> Path:
        return self.root / "prosody.cfg.lua"

    def write_config(self) -> None:
        (self.root / "certs").mkdir(parents=True, exist_ok=True)
        (self.root / "prosody-data").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            PROSODY_CONFIG.format(
                root=self.root,
                loglevel="info",
                c2s_port=self.c2s_port,
                component_port=self.component_port,
                domain=self.domain,
                component=self.component,
                component_secret=self.component_secret,
            )
        )

    def start(self, *, detached: bool = False) -> None:
        self.write_config()
        argv = ["prosody", "--config", str(self.config_path), "-F"]
        self.child = Child("prosody", argv, self.root / "prosody.out", detached)
        self.child.start()
        header = (
            f"<?xml version='1.0'?><stream:stream to='{self.domain}' version='1.0' "
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        ).encode()
        # An open port is not enough (a Prosody started as root without run_as_root
        # can hang half-started with its ports open): wait for stream features.
        wait_until(lambda: _talk(self.c2s_port, header, b"features"), "prosody", self.child)
        wait_until(lambda: _port_open(self.component_port), "prosody components", self.child)

    def adduser(self, name: str, password: str | None = None) -> tuple[str, str]:
        """Create ``name@domain`` (works while the server runs: file storage)."""
        password = password or secrets.token_urlsafe(12)
        argv = ["prosodyctl", "--config", str(self.config_path), "register", name]
        result = subprocess.run(
            [*argv, self.domain, password], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise StackError(f"prosodyctl register {name} failed: {result.stdout}{result.stderr}")
        return f"{name}@{self.domain}", password


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@dataclass
class Stack:
    """Redis and Prosody (and the apps, when asked) under one folder of ``.local/``."""

    root: Path
    persistent: bool = False
    redis: RedisServer = field(init=False)
    prosody: ProsodyServer = field(init=False)
    apps: list[Child] = field(default_factory=list)
    web_port: int = field(default_factory=free_port)
    config_path: Path = field(init=False)
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.root, persistent=self.persistent)
        self.prosody = ProsodyServer(self.root)
        self.config_path = self.root / "config.toml"

    @property
    def bot_jid(self) -> str:
        return self.prosody.component

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, *, detached: bool = False, operators: tuple[str, ...] = ()) -> None:
        try:
            self.redis.start(detached=detached)
            self.prosody.start(detached=detached)
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
        jid, password = self.prosody.adduser(name)
        xmpp = {
            "mode": "client",
            "jid": jid,
            "password": password,
            "host": "127.0.0.1",
            "port": self.prosody.c2s_port,
            "plain_auth_on_loopback": True,
        }
        return {"xmpp": xmpp}

    def start_app(
        self, name: str, *args: str, detached: bool = False, config: Path | None = None
    ) -> Child:
        """Start ``accountbot NAME`` with this stack's config (the bot, the web service)."""
        config = config or self.config_path
        argv = [sys.executable, "-m", "accountbot", name, "--config", str(config), *args]
        child = Child(name, argv, self.root / f"{name}-{config.stem}.log", detached)
        child.start()
        self.apps.append(child)
        return child

    def stop(self) -> None:
        for child in [*reversed(self.apps), self.prosody.child, self.redis.child]:
            if child is not None:
                child.stop()
        self.apps.clear()

    def describe(self) -> dict[str, Any]:
        children = [c for c in [self.redis.child, self.prosody.child, *self.apps] if c]
        return {
            "xmpp_host": "127.0.0.1",
            "xmpp_port": self.prosody.c2s_port,
            "component_port": self.prosody.component_port,
            "domain": self.prosody.domain,
            "bot_jid": self.bot_jid,
            "web_url": self.web_url,
            "redis_url": self.redis.url,
            "config": str(self.config_path),
            "prosody_config": str(self.prosody.config_path),
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
            "jid": stack.prosody.component,
            "secret": stack.prosody.component_secret,
            "host": "127.0.0.1",
            "port": stack.prosody.component_port,
        },
        "redis": {"url": stack.redis.url},
        "web": {
            "host": "127.0.0.1",
            "port": stack.web_port,
            "public_url": stack.web_url,
            "link_secret": stack.secrets["link"],
        },
        "billing": {"currency": "USD"},
        "providers.test": {"enabled": True},
        "operators": {"jids": list(operators)},
        "gateway": {"token": stack.secrets["gateway"]},
    }
    for name, values in overrides.items():
        sections.setdefault(name, {}).update(values)
    lines = ["# Generated by accountbot.stack for the local stack: loopback only."]
    for name, values in sections.items():
        lines.append(f"\n[{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
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
        _wait_reaped(int(pid))
    (local / STACK_JSON).unlink(missing_ok=True)
    return stopped

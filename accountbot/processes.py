"""Server processes of the local stack: start one, wait for it, stop it and all it left.

Every server is a child process with its log in a file beside its config;
readiness is a real protocol exchange (a PONG, XMPP stream features), never
an open port alone, and a server that dies while we wait fails at once with
the end of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


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


def wait_reaped(pid: int, timeout: float = 5.0) -> None:
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


def talk(port: int, send: bytes, expect: bytes, timeout: float = 2.0) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(send)
        received = b""
        while expect not in received:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            received += chunk
        return True


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True

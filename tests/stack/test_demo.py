"""`make demo` typed into as a person would, through a pseudo-terminal."""

from __future__ import annotations

import os
from pathlib import Path

import pexpect

from tests.support import ROOT


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(cmdline)
    return found


def test_make_demo_chats_with_the_bot_and_ctrl_d_stops_everything(tmp_path: Path) -> None:
    local = tmp_path / "local"
    env = {**os.environ, "ACCOUNTBOT_LOCAL": str(local)}
    child = pexpect.spawn("make", ["demo"], cwd=ROOT, env=env, encoding="utf-8", timeout=90)
    try:
        child.expect("Connected as demo@localhost")
        child.sendline("balance")
        child.expect(r"Balance: \$\d+\.\d\d")
        child.sendline("history")
        child.expect("demo welcome credit")
        child.sendline("frobnicate")
        child.expect("Unknown command 'frobnicate'")
        child.sendeof()
        child.expect("demo stopped")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert processes_mentioning(str(local)) == []

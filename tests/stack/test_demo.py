"""`make demo` typed into as a person would, through a pseudo-terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

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


def fresh_clone(dest: Path) -> Path:
    """What a clone of this checkout holds: its files and the new ones, nothing ignored
    (no .venv, no .local): ``make demo`` there starts from nothing."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.timeout(300)
def test_make_demo_in_a_fresh_clone_shows_the_whole_product_and_ctrl_d_stops_it(
    tmp_path: Path,
) -> None:
    clone = fresh_clone(tmp_path / "clone")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACCOUNTBOT_", "VIRTUAL_ENV"))}
    child = pexpect.spawn("make", ["demo"], cwd=clone, env=env, encoding="utf-8", timeout=180)
    try:
        child.expect("demo@localhost is on the Basic plan")
        child.expect("pays for demo-leaf@localhost")
        child.expect("Connected as demo@localhost")
        child.timeout = 20
        child.sendline("Balance")
        child.expect(r"Balance: \$5\.00")
        child.expect(r"Plan: Basic, \$10\.00 a month")
        child.sendline("invoices")
        child.expect(r"paid \$10\.00")
        child.sendline("numbers")
        child.expect(r"demo-leaf@localhost: \+15550100002")
        child.sendline("usage")
        child.expect("SMS: 12 of 100")
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
    assert processes_mentioning(str(clone)) == []

"""The local stack: real Prosody and redis-server, as the fixtures and `make up` start them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accountbot.stack import Stack, pid_alive
from accountbot.xmpp_servers import SERVERS
from tests.support import ROOT
from tests.support.clients import logged_in


async def test_a_created_user_logs_in_to_the_real_prosody(stack: Stack) -> None:
    jid, password = stack.xmpp.adduser("stacktest")
    async with logged_in(jid, password, "127.0.0.1", stack.xmpp.c2s_port) as client:
        assert str(client.boundjid.bare) == "stacktest@localhost"


async def test_a_wrong_password_is_refused(stack: Stack) -> None:
    jid, _ = stack.xmpp.adduser("wrongpw")
    with pytest.raises(PermissionError):
        async with logged_in(jid, "not-the-password", "127.0.0.1", stack.xmpp.c2s_port):
            pass


def accountbot(*args: str, local: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACCOUNTBOT_LOCAL": str(local)}
    return subprocess.run(
        [sys.executable, "-m", "accountbot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


@pytest.mark.parametrize("server", SERVERS)
async def test_dev_up_adduser_login_and_down_leaves_nothing(tmp_path: Path, server: str) -> None:
    local = tmp_path / "local"
    up = accountbot("dev", "up", "--server", server, local=local)
    assert up.returncode == 0, up.stderr
    info = json.loads((local / "stack.json").read_text())
    for key in ("xmpp_host", "xmpp_port", "domain", "bot_jid", "web_url", "redis_url", "config"):
        assert key in info
    assert info["xmpp_server"] == server
    pids = list(info["pids"].values())
    assert set(info["pids"]) == {"redis", server, "bot", "web"}
    try:
        added = accountbot("dev", "adduser", "alice", local=local)
        assert added.returncode == 0, added.stderr
        jid, password = added.stdout.split()
        assert jid == f"alice@{info['domain']}"
        async with logged_in(jid, password, info["xmpp_host"], info["xmpp_port"]) as client:
            client.say(info["bot_jid"], "help")
            assert "register" in (await client.next_message(15))["body"]
        again = accountbot("dev", "up", local=local)
        assert again.returncode == 2 and "already running" in again.stderr
        listed = accountbot("admin", "plan", "list", "--config", info["config"], local=local)
        assert listed.returncode == 0, listed.stderr
        assert [line.split()[:3] for line in listed.stdout.splitlines()] == [
            ["basic", "v1", "$10.00/month"],
            ["plus", "v1", "$25.00/month"],
        ]
        packs = accountbot("admin", "pack", "list", "--config", info["config"], local=local)
        assert [line.split()[0] for line in packs.stdout.splitlines()] == [
            "mms100",
            "sms500",
            "minutes300",
        ]
    finally:
        down = accountbot("dev", "down", local=local)
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(pid) for pid in pids)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_adduser_without_a_stack_says_so(tmp_path: Path) -> None:
    result = accountbot("dev", "adduser", "bob", local=tmp_path)
    assert result.returncode == 2
    assert "make up" in result.stderr


@pytest.mark.slow
async def test_dev_up_on_a_cluster_serves_the_bot_and_the_cli_and_down_stops_it(
    tmp_path: Path,
) -> None:
    """``accountbot dev up --cluster`` (``make up CLUSTER=1``): six redis-servers, AOF on,
    joined as a cluster; the bot, the web service and the CLI on it."""
    local = tmp_path / "local"
    up = accountbot("dev", "up", "--cluster", local=local)
    assert up.returncode == 0, up.stderr
    info = json.loads((local / "stack.json").read_text())
    assert info["redis_cluster"] is True
    assert info["redis_url"].startswith("redis+cluster://127.0.0.1:")
    nodes = [name for name in info["pids"] if name.startswith("redis-node")]
    assert len(nodes) == 6 and {"prosody", "bot", "web"} <= set(info["pids"])
    pids = list(info["pids"].values())
    try:
        assert all((local / "stack" / f"{node}" / "appendonlydir").is_dir() for node in nodes)
        added = accountbot("dev", "adduser", "alice", local=local)
        jid, password = added.stdout.split()
        async with logged_in(jid, password, info["xmpp_host"], info["xmpp_port"]) as client:
            client.say(info["bot_jid"], "register")
            assert "Welcome" in (await client.next_message(15))["body"]
        config = ("--config", info["config"])
        credit = ["admin", "credit", jid, "20", "--reason", "welcome", "--ref", "w1", *config]
        credited = accountbot(*credit, local=local)
        assert credited.returncode == 0 and "credited $20.00" in credited.stdout, credited.stderr
        reconciled = accountbot("admin", "reconcile", *config, local=local)
        assert "0 mismatches" in reconciled.stdout, reconciled.stdout + reconciled.stderr
    finally:
        down = accountbot("dev", "down", local=local)
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(pid) for pid in pids)

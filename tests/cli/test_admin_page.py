"""``accountbot admin page JID``: a link to the account page with the operator's actions,
opened on a real ``accountbot web`` process."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from accountbot.common import operator
from accountbot.stack import Child
from payments.config import load_config
from payments.stores import Store
from payments.web.links import read_account_link

ALICE = "alice@localhost"


async def admin(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "accountbot",
        "--config",
        str(config),
        "admin",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_admin_page_prints_an_operator_link_to_the_account_page(
    web_service: tuple[Child, Path], real_store: Store
) -> None:
    _, config_path = web_service
    config = load_config(config_path)
    code, out, err = await admin(config_path, "page", "Nobody@Localhost")
    assert code == 1 and out.strip() == "nobody@localhost: no account"

    await real_store.accounts.register_trial(ALICE, datetime.now(UTC), 30)
    code, out, err = await admin(config_path, "page", ALICE)
    assert code == 0 and "valid 60 minutes" in err
    [url] = out.split()
    token = urlsplit(url).path.rsplit("/", 1)[1]
    link = read_account_link(config.web.link_secret.reveal(), token, int(time.time()))
    assert url.startswith(config.web.public_url) and link.jid == ALICE
    assert link.operator == operator()  # cli:USER, who the page's actions are recorded as
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
    assert response.status == 200 and "Operator actions" in text and ALICE in text

"""What operators see of the real bot: one JSON object per log line with the account,
command and outcome of each request (never a secret, never what was typed after the
command), and /metrics on its loopback port through prometheus-client."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from accountbot.stack import Child, Stack
from bot.chat import ENCRYPTED_REPLY
from payments.notices import Notice
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.bots import bot_config, running_bot
from tests.support.real_clients import EXTRAS, OMEMO, OMEMO_FALLBACK, recording
from tests.support.scrape import scrape


def this_run(child: Child) -> str:
    """What this run of the bot logged (its log file may hold earlier runs' lines)."""
    with child.log.open("rb") as log:
        log.seek(child.log_offset)
        return log.read().decode("utf-8")


def request_lines(text: str, account: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in text.splitlines()]  # each one JSON object
    return [line for line in lines if line.get("account") == account]


async def test_json_request_lines_and_metrics_of_the_bot(stack: Stack, tmp_path: Path) -> None:
    config = bot_config(stack, tmp_path, "component", log={"format": "json"})
    jid, password = stack.xmpp.adduser(f"ops{secrets.token_hex(4)}")
    store = Store(open_redis(stack.redis.url))
    voucher = "SECRETVOUCHERCODE12345"
    with running_bot(stack, config) as child:
        async with recording(jid, password, stack.xmpp.c2s_port) as client:
            for text in ("help", "frobnicate now", f"redeem {voucher}"):
                client.say(stack.bot_jid, text)
                await client.next_message()
            client.send_as_client(
                stack.bot_jid, "m-omemo", OMEMO + EXTRAS["conversations"], OMEMO_FALLBACK
            )
            assert (await client.next_message())["body"] == ENCRYPTED_REPLY
            await store.outbox.notify(Notice(jid, "test", "A notice for the lag."))
            assert (await client.next_message())["body"] == "A notice for the lag."
        metrics = await scrape(stack.bot_metrics_url)
    log_text = this_run(child)
    await store.close()

    lines = request_lines(log_text, jid)
    assert [(line["command"], line["outcome"]) for line in lines] == [
        ("help", "ok"),
        ("unknown", "item-not-found"),
        ("redeem", "not-allowed"),  # a stranger has no balance to redeem into
        ("encrypted", "ok"),
    ]
    assert all(line["face"] == "chat" and isinstance(line["ms"], float) for line in lines)
    assert all(line["level"] == "INFO" and line["logger"] == "bot.xmpp" for line in lines)
    assert voucher not in log_text and "now" not in [line["command"] for line in lines]
    for secret in (*stack.secrets.values(), stack.xmpp.component_secret):
        assert secret not in log_text

    def sample(name: str, **labels: str) -> float:
        return metrics[(name, tuple(sorted(labels.items())))]

    assert sample("accountbot_bot_commands_total", face="chat", command="help", outcome="ok") == 1
    assert sample(
        "accountbot_bot_commands_total", face="chat", command="unknown", outcome="item-not-found"
    ) == 1  # fmt: skip
    assert sample("accountbot_bot_messages_total", kind="encrypted") == 1
    assert sample("accountbot_bot_reply_seconds_count", face="chat") == 4
    assert sample("accountbot_bot_outbox_lag_seconds_count") >= 1
    assert sample("accountbot_bot_connected") == 1
    assert sample("accountbot_bot_reconnects_total") == 0

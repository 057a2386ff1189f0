"""Logs one JSON object per line (or text), and the chores' node-exporter textfiles."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from accountbot.cli import main
from accountbot.logs import JsonFormatter, setup_logging
from accountbot.stack import Stack
from payments.config import LogConfig, Secret


def record(message: str, *args: object, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("bot.xmpp", logging.INFO, __file__, 1, message, args, None)
    made.fields = fields
    return made


def test_a_json_line_holds_the_message_and_the_request_fields() -> None:
    line = JsonFormatter().format(
        record("chat %s: %s", "alice@example.org", "ok", account="alice@example.org", ms=1.5)
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "chat alice@example.org: ok"
    assert (entry["level"], entry["logger"]) == ("INFO", "bot.xmpp")
    assert entry["account"] == "alice@example.org" and entry["ms"] == 1.5
    assert entry["time"].endswith("+00:00")


def test_an_exception_stays_on_its_line_and_secrets_never_show() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "with %s", (Secret("s3"),), None
        )
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    entry = json.loads(line)
    assert "ValueError: boom" in entry["exception"] and "\n" not in line
    assert "s3" not in line and "Secret('**********')" in entry["message"]


@pytest.mark.parametrize(("kind", "json_lines"), [("json", True), ("text", False)])
def test_the_format_is_chosen_by_the_config(
    kind: str, json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging(LogConfig(format=kind))  # type: ignore[arg-type]
        logging.getLogger("accountbot.test").info("hello %s", "there")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    written = capsys.readouterr().err.strip()
    if json_lines:
        assert json.loads(written)["message"] == "hello there"
    else:
        assert written.endswith("INFO accountbot.test: hello there")


def test_each_chore_writes_its_textfile(redis_stack: Stack, tmp_path: Path) -> None:
    textfiles = tmp_path / "textfiles"
    config = redis_stack.write_config(
        path=tmp_path / "chores.toml", metrics={"chores_textfile_dir": str(textfiles)}
    )
    assert main(["--config", str(config), "chore", "all", "--dry-run"]) == 0
    assert not textfiles.exists()  # a dry run changes nothing, reports nothing
    assert main(["--config", str(config), "chore", "renew"]) == 0
    assert main(["--config", str(config), "chore", "all"]) == 0
    written = sorted(p.name for p in textfiles.iterdir())
    assert "accountbot_chore_renew.prom" in written
    assert "accountbot_chore_settle_usage.prom" in written
    assert not [name for name in written if not name.endswith(".prom")]  # no temporary left
    text = (textfiles / "accountbot_chore_renew.prom").read_text()
    samples = {s.name: s for family in text_string_to_metric_families(text) for s in family.samples}
    for name in ("last_run_timestamp_seconds", "duration_seconds", "due", "errors", "skipped"):
        assert samples[f"accountbot_chore_{name}"].labels == {"chore": "renew"}
    assert samples["accountbot_chore_errors"].value == 0
    assert samples["accountbot_chore_last_run_timestamp_seconds"].value > 1.7e9

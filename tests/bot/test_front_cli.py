"""``accountbot bot --front PORT --worker N``: a worker's config, without starting it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accountbot.botcmd import as_worker
from accountbot.cli import build_parser, main
from accountbot.common import CliError
from payments.config import Config, MetricsConfig, XmppConfig

CONFIG = Config(
    xmpp=XmppConfig(host="xmpp.example.org", port=5347), metrics=MetricsConfig(bot_port=9100)
)


def worker(*flags: str, config: Config = CONFIG) -> Config:
    return as_worker(config, build_parser().parse_args(["bot", *flags]))


def test_a_worker_talks_to_the_front_on_loopback_and_serves_metrics_of_its_own() -> None:
    second = worker("--front", "5348", "--worker", "2")
    assert (second.xmpp.host, second.xmpp.port, second.xmpp.jid) == (
        "127.0.0.1",
        5348,
        CONFIG.xmpp.jid,
    )
    assert second.metrics.bot_port == 9102
    assert worker("--front", "5348", "--worker", "2", "--metrics-port", "0").metrics.bot_port == 0
    assert worker() == CONFIG  # no worker: the config as written


def test_a_client_mode_bot_cannot_be_a_worker(capsys: pytest.CaptureFixture[str]) -> None:
    client = replace(CONFIG, xmpp=replace(CONFIG.xmpp, mode="client"))
    with pytest.raises(CliError, match="workers are components"):
        worker("--front", "5348", config=client)
    assert main(["front", "--config", "/nonexistent/accountbot.toml"]) == 2
    assert "accountbot:" in capsys.readouterr().err

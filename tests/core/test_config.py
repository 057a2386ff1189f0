from __future__ import annotations

from pathlib import Path

import pytest

from payments.config import ConfigError, Secret, load_config
from payments.money import Money
from tests.support import ROOT

GOOD = """
[xmpp]
mode = "component"
jid = "accounts.example.org"
secret = "component-secret"
host = "127.0.0.1"
port = 5347

[redis]
url = "redis://127.0.0.1:6379/0"

[web]
public_url = "https://pay.example.org"
link_secret = "link-secret"

[billing]
activation_amount = "25.50"
trial_days = 14

[gateway]
token = "gw-token"

[operators]
jids = ["admin@example.org"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_example_config_shipped_with_the_project_loads() -> None:
    example = ROOT / "config.example.toml"
    config = load_config(example, env={})
    assert config.xmpp.mode == "component"
    assert config.billing.activation_amount == Money.whole(20)
    assert config.ledger.keep_months == 13


def test_reads_typed_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert config.billing.activation_amount == Money(255_000)
    assert config.billing.trial_days == 14
    assert config.operators.jids == ("admin@example.org",)
    assert config.xmpp.secret.reveal() == "component-secret"


def test_secrets_never_show_in_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert "component-secret" not in repr(config)
    assert "gw-token" not in repr(config)
    assert "gw-token" not in str(config.gateway.token)


def test_environment_overrides_secrets(tmp_path: Path) -> None:
    text = GOOD.replace('secret = "component-secret"\n', "")
    config = load_config(write(tmp_path, text), env={"ACCOUNTBOT_XMPP_SECRET": "from-env"})
    assert config.xmpp.secret == Secret("from-env")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("[redis]", "[redis]\nport = 1"), r"\[redis\] port: unknown key"),
        (("trial_days = 14", 'trial_days = "14"'), r"\[billing\] trial_days: expected an integer"),
        (('mode = "component"', 'mode = "server"'), r"\[xmpp\] mode: expected"),
        (("trial_days = 14", "trial_days = -1"), r"\[billing\] trial_days"),
        (('activation_amount = "25.50"', "activation_amount = 25.5"), "activation_amount"),
        (('activation_amount = "25.50"', 'activation_amount = "1e3"'), "activation_amount"),
        (('secret = "component-secret"', ""), r"\[xmpp\] secret: missing secret"),
        (('token = "gw-token"', ""), r"\[gateway\] token: missing secret"),
        (('jids = ["admin@example.org"]', 'jids = "admin@example.org"'), r"\[operators\] jids"),
        (("[gateway]", "[gateways]"), r"\[gateways\]: unknown key"),
        (("[gateway]", "[ledger]\nkeep_months = -1\n[gateway]"), r"\[ledger\] keep_months"),
        (("[gateway]", '[ledger]\narchive_dir = " "\n[gateway]'), r"\[ledger\] archive_dir"),
    ],
)
def test_bad_config_stops_with_the_key_named(
    tmp_path: Path, change: tuple[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, GOOD.replace(*change)), env={})


def test_enabled_provider_needs_its_secrets(tmp_path: Path) -> None:
    text = GOOD + '\n[providers.stripe]\nenabled = true\nwebhook_secret = "whsec"\n'
    with pytest.raises(ConfigError, match=r"\[providers.stripe\] api_key: missing secret"):
        load_config(write(tmp_path, text), env={})


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[xmpp"), env={})
    with pytest.raises(ConfigError, match="ACCOUNTBOT_CONFIG"):
        load_config(None, env={})

"""The catalog declared in the config ([[plans]], [[packs]]): read, checked, applied at start.

Store tests run on fakeredis and on the real redis-server (the same bodies);
the start-up refusal runs the real `accountbot bot` and `accountbot web`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from accountbot.stack import Stack
from payments.billing.payment import credit_account
from payments.catalog.declared import apply_declared, check_default_plan, prepare_catalog
from payments.config import BillingConfig, Config, ConfigError, PackDecl, PlanDecl, load_config
from payments.ledger.records import EntryKind
from payments.stores import Store
from tests.support import ROOT
from tests.support.billing import T0, days, usd

BASE = """
[xmpp]
secret = "s"
[web]
link_secret = "l"
[gateway]
token = "t"
"""
CATALOG = """
[billing]
default_plan = "basic"

[[plans]]
id = "basic"
name = "Basic"
price = "10"
allowances = { sms = 100, voice_minutes = 300 }

[[plans]]
id = "plus"
name = "Plus"
price = "25.50"

[[packs]]
id = "sms500"
resource = "sms"
quantity = 500
price = "5"
"""


def config_of(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text + BASE)
    return load_config(path, env={})


def test_the_catalog_is_read_with_its_types(tmp_path: Path) -> None:
    config = config_of(tmp_path, CATALOG)
    assert config.plans == (
        PlanDecl("basic", "Basic", usd("10"), {"sms": 100, "voice_minutes": 300}),
        PlanDecl("plus", "Plus", usd("25.50"), {}),
    )
    assert config.packs == (PackDecl("sms500", "sms", 500, usd("5")),)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[[plans]]\nid = "basic"\nname = "Basic"\n', "[plans.basic] price: required"),
        ('[[plans]]\nid = "a"\nname = "A"\nprice = 9.5\n', "[plans.a] price: expected an amount"),
        ('[[plans]]\nname = "A"\nprice = "1"\n', "[plans.#1] id: required"),
        (
            '[[plans]]\nid = "a"\nname = "A"\nprice = "1"\nallowances = { fax = 3 }\n',
            "[plans.a] allowances: 'fax' is not one of [usage] resources",
        ),
        (
            '[[plans]]\nid = "a"\nname = "A"\nprice = "1"\ncolour = "red"\n',
            "[plans.a] colour: unknown key",
        ),
        (
            '[[plans]]\nid = "a"\nname = "A"\nprice = "1"\n[[plans]]\nid = "a"\nname = "B"\n'
            'price = "2"\n',
            "[[plans]]: id a is declared twice",
        ),
        ('plans = ["basic"]\n', "[[plans]]: expected tables"),
        (
            '[[packs]]\nid = "p"\nresource = "fax"\nquantity = 5\nprice = "1"\n',
            "[packs.p] resource: 'fax' is not one of [usage] resources",
        ),
        (
            '[[packs]]\nid = "p"\nresource = "sms"\nquantity = 0\nprice = "1"\n',
            "[packs.p] quantity: at least 1",
        ),
    ],
)
def test_a_bad_declaration_names_its_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_of(tmp_path, text)
    assert str(refused.value).startswith(named), refused.value


async def test_applying_twice_changes_nothing_the_second_time(tmp_path: Path, store: Store) -> None:
    config = config_of(tmp_path, CATALOG)
    first = await apply_declared(store, config, T0)
    assert [(p.id, p.version, new) for p, new in first.plans] == [
        ("basic", 1, True),
        ("plus", 1, True),
    ]
    again = await apply_declared(store, config, T0 + days(1))
    assert [new for _, new in (*again.plans, *again.packs)] == [False, False, False]
    assert again.summary() == "catalog: 3 declared offers, none changed"
    assert [p.version for p in await store.plans.versions("basic")] == [1]
    plus = await store.plans.get("plus")
    assert plus is not None and plus.price == usd("25.50") and plus.created_at == T0


async def test_a_changed_price_is_a_new_version_and_subscribers_keep_theirs(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(tmp_path, CATALOG)
    await prepare_catalog(store, config, T0)
    alice = "alice@example.org"
    await store.accounts.register_trial(alice, T0, 30)
    await credit_account(
        store, alice, usd("20"), reason="top-up", kind=EntryKind.PAYMENT, at=T0,
        policy=config.billing,
    )  # fmt: skip
    bought = await store.accounts.plan_snapshot(alice)
    dearer = replace(config, plans=(replace(config.plans[0], price=usd("12")), config.plans[1]))
    applied = await apply_declared(store, dearer, T0 + days(3))
    assert [(p.id, p.version, new) for p, new in applied.plans] == [
        ("basic", 2, True),
        ("plus", 1, False),
    ]
    assert applied.summary() == "catalog: 3 declared offers, new versions: basic v2"
    assert await store.accounts.plan_snapshot(alice) == bought
    assert bought["price"] == str(usd("10").units)


async def test_offers_made_by_operators_are_left_alone(tmp_path: Path, store: Store) -> None:
    await store.plans.put("legacy", at=T0, price=usd("3"), name="Legacy")
    await apply_declared(store, config_of(tmp_path, CATALOG), T0)
    assert [p.id for p in await store.plans.all()] == ["legacy", "basic", "plus"]


async def test_two_processes_starting_together_publish_one_version(
    tmp_path: Path, store: Store
) -> None:
    config = config_of(tmp_path, CATALOG)
    await asyncio.gather(*(apply_declared(store, config, T0) for _ in range(4)))
    assert [p.version for p in await store.plans.versions("basic")] == [1]
    assert [p.version for p in await store.packs.versions("sms500")] == [1]


async def test_a_default_plan_nowhere_to_be_found_is_refused(tmp_path: Path, store: Store) -> None:
    config = config_of(tmp_path, CATALOG)
    gold = replace(config, billing=replace(config.billing, default_plan="gold"))
    with pytest.raises(ConfigError, match=r"^\[billing\] default_plan: 'gold' is neither"):
        await prepare_catalog(store, gold, T0)
    await store.plans.put("gold", at=T0, price=usd("50"), name="Gold")  # an operator's plan
    assert (await check_default_plan(store, gold)).id == "gold"


async def test_a_declared_id_users_cannot_type_is_refused(tmp_path: Path, store: Store) -> None:
    config = config_of(tmp_path, CATALOG)
    odd = replace(config, plans=(replace(config.plans[0], id="Basic Plan"),))
    with pytest.raises(ConfigError, match=r"^\[plans.Basic Plan\] id: a plan id is 1 to 32"):
        await apply_declared(store, odd, T0)
    assert await store.plans.all() == []


def accountbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accountbot", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize("service", ["bot", "web"])
def test_a_service_without_its_default_plan_refuses_to_start(
    redis_stack: Stack, tmp_path: Path, service: str
) -> None:
    config = redis_stack.write_config(
        path=tmp_path / "nogold.toml", billing={"default_plan": "gold-never-declared"}
    )
    started = accountbot(service, "--config", str(config))
    assert started.returncode == 2, started
    assert started.stderr.strip().splitlines()[-1] == (
        "accountbot: [billing] default_plan: 'gold-never-declared' is neither declared in "
        "[[plans]] nor in the catalog in Redis (accountbot admin plan list)"
    )


def test_the_local_stack_ships_a_catalog_with_its_default_plan(redis_stack: Stack) -> None:
    config = load_config(redis_stack.config_path, env={})
    assert config.billing.default_plan in {p.id for p in config.plans}
    assert {p.id for p in config.packs} == {"sms500", "minutes300", "mms100"}
    assert BillingConfig().default_plan == "basic"

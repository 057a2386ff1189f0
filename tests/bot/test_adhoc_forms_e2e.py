"""Ad-hoc commands (XEP-0050) as clients show them, through Prosody and ejabberd.

What real clients show of a form (XMPP-NOTES.md, "Clients"): the command's name
from disco, the form's title, instructions (profanity, Gajim) and fixed fields
(poezio, which shows neither instructions nor notes of a form). So: short
capitalised names, errors in the instructions, beside the field and as a fixed
field, typed values kept, pick-lists where the choices are known, a text
rendering beside every table.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import slixmpp

from accountbot.stack import Stack
from bot.adhoc import FIXED_WIDTH
from payments.catalog.declared import prepare_catalog
from payments.config import load_config
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from tests.bot.test_bot_e2e import login
from tests.support.clients import UserClient, command_nodes, enable_adhoc, execute, notes
from tests.support.servers import MODES, Bot, serving_bot


@pytest.fixture(scope="module", params=MODES)
def bot(
    server_stack: Stack, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp(f"forms-{server_stack.xmpp.name}-{request.param}")
    with serving_bot(server_stack, tmp, request.param) as bot:
        yield bot


@pytest.fixture
async def store(server_stack: Stack, bot: Bot) -> AsyncIterator[Store]:
    """The server's store, with the stack's catalog (another module may have emptied it)."""
    store = Store(open_redis(server_stack.redis.url))
    config = load_config(bot.config, env={})
    await prepare_catalog(store, config, datetime.now(UTC))
    yield store
    await store.close()


def fixed_text(fields: Mapping[str, Any], prefix: str) -> str:
    """The text of the fixed fields named ``prefix0``, ``prefix1``..., each at most 36 long."""
    lines = [str(f["value"]) for var, f in fields.items() if var.startswith(prefix)]
    assert all(f["type"] == "fixed" for var, f in fields.items() if var.startswith(prefix))
    assert lines and all(len(line) <= FIXED_WIDTH for line in lines), lines
    return " ".join(" ".join(lines).split())


async def trial(stack: Stack, store: Store) -> tuple[str, str]:
    jid, password = stack.xmpp.adduser(f"form{secrets.token_hex(4)}")
    await store.accounts.register_trial(jid, datetime.now(UTC), 30)
    await store.ledger.credit(jid, Money(50_000), reason="test")
    return jid, password


def fields_of(answer: slixmpp.Iq) -> dict[str, Any]:
    return dict(answer["command"]["form"].get_fields())


@asynccontextmanager
async def adhoc_trial(stack: Stack, store: Store) -> AsyncIterator[UserClient]:
    """A trial account's client, ready for ad-hoc commands."""
    async with login(stack, *await trial(stack, store)) as client:
        enable_adhoc(client)
        yield client


async def test_commands_are_listed_by_short_capitalised_names(
    server_stack: Stack, bot: Bot, store: Store
) -> None:
    async with adhoc_trial(server_stack, store) as client:
        names = await command_nodes(client, bot.adhoc_jid)
    assert names["balance"] == "Balance"
    assert names["topup"] == "Top up"
    assert names["plan"] == "Choose a plan"
    assert names["help-more"] == "All commands"
    for name in names.values():
        assert name[:1].isupper() and len(name) <= 24 and "(" not in name, name


async def test_plan_offers_the_plans_on_offer_as_a_pick_list(
    server_stack: Stack, bot: Bot, store: Store
) -> None:
    async with adhoc_trial(server_stack, store) as client:
        form = await execute(client, bot.adhoc_jid, "plan")
        assert form["command"]["status"] == "executing"
        x = form["command"]["form"]
        assert x["title"] == "Choose a plan"
        assert x["instructions"] == "Choose your plan."
        field = fields_of(form)["id"]
        assert field["type"] == "list-single" and field["label"] == "Plan"
        assert not field["required"]
        assert [(o["value"], o["label"]) for o in field["options"]] == [
            ("basic", "Basic, $10.00 a month"),
            ("plus", "Plus, $25.00 a month"),
        ]
        done = await execute(client, bot.adhoc_jid, "plan", {"id": "plus"})
    assert done["command"]["status"] == "completed"
    assert notes(done) == (  # the trial holds $5 of the $20 that activate it
        "Plus ($25.00 a month) starts once your balance reaches $20.00."
        " You have $5.00: top up $15.00 more with 'topup'."
    )


async def test_a_wrong_value_comes_back_visible_with_what_was_typed(
    server_stack: Stack, bot: Bot, store: Store
) -> None:
    error = "Month: a month is written YYYY-MM, like 2026-03."
    async with adhoc_trial(server_stack, store) as client:
        wrong = await execute(client, bot.adhoc_jid, "history", {"month": "March"})
        assert wrong["command"]["status"] == "executing"
        assert notes(wrong) == ""  # not where clients would hide it
        x = wrong["command"]["form"]
        assert x["instructions"] == error
        fields = fields_of(wrong)
        assert fixed_text(fields, "message") == error  # in lines poezio does not cut
        assert fields["month"]["value"] == "March" and fields["month"]["desc"] == error
        done = await execute(client, bot.adhoc_jid, "history", {"month": ""})
    assert done["command"]["status"] == "completed"
    assert "+$5.00" in notes(done)


async def test_a_final_error_completes_the_command_with_a_visible_note(
    server_stack: Stack, bot: Bot, store: Store
) -> None:
    async with adhoc_trial(server_stack, store) as client:
        done = await execute(client, bot.adhoc_jid, "plan", {"id": "gold"})
    assert done["command"]["status"] == "completed"
    assert done["command"]["notes"] == [
        ("error", "There is no plan 'gold'. Send 'plans' to see them.")
    ]


async def test_a_table_comes_with_its_text(server_stack: Stack, bot: Bot, store: Store) -> None:
    async with adhoc_trial(server_stack, store) as client:
        done = await execute(client, bot.adhoc_jid, "plans")
    text = notes(done)
    x = done["command"]["form"]
    assert x["type"] == "result" and x["title"] == "Plans"
    assert fixed_text(x.get_fields(), "line") == " ".join(text.split())
    assert [var for var, _label in ((r["var"], r["label"]) for r in x["reported"].values())] == [
        "plan",
        "name",
        "a_month",
        "includes",
    ]
    assert len(x["items"]) == 2

"""The ``topup`` and ``redeem`` handlers, called directly with a Context over the real store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.commands.model import PAYERS, Context, Param, Registry, Role, convert
from bot.commands.payments import COMMANDS, redeem, topup
from payments.accounts.records import Account, AccountKind, AccountStatus
from payments.codes import REFUSAL, VOUCHER_CODES
from payments.config import Config
from payments.money import Money
from payments.stores import Store
from payments.topup.flow import create_vouchers
from payments.topup.vouchers import VoucherBatch
from payments.web.links import read_link
from payments.web.state import CONFIG
from tests.support.webfakes import LINK_SECRET, running_service

ALICE = "alice@localhost"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[tuple[str, Config]]:
    async with running_service(redis_url) as (base, app):
        yield base, app[CONFIG]


def context(store: Store, config: Config, jid: str = ALICE) -> Context:
    now = datetime.now(UTC)
    account = Account(jid, AccountKind.TRIAL, AccountStatus.ACTIVE, now, "trial")
    return Context(jid=jid, role=Role.TRIAL, account=account, store=store, config=config, now=now)


def amount_param() -> Param:
    [param] = COMMANDS[0].params
    return param


async def test_topup_replies_with_a_personal_link_that_opens_the_page(
    real_store: Store, site: tuple[str, Config]
) -> None:
    base, config = site
    reply = await topup(context(real_store, config), {})
    assert reply.url and reply.url in reply.text and not reply.error
    assert reply.url.startswith(f"{base}/topup/")
    token = urlsplit(reply.url).path.rsplit("/", 1)[1]
    link = read_link(LINK_SECRET, token, int(time.time()))
    assert link.jid == ALICE and link.amount_units == 0
    expected = time.time() + config.web.link_ttl_minutes * 60
    assert abs(link.expires_at - expected) < 5
    async with aiohttp.ClientSession() as http, http.get(reply.url) as response:
        assert response.status == 200
        assert ALICE in await response.text()


async def test_topup_with_an_amount_presets_it_in_the_link(
    real_store: Store, site: tuple[str, Config]
) -> None:
    _, config = site
    amount = convert(amount_param(), "25", config)
    reply = await topup(context(real_store, config), {"amount": amount})
    assert reply.text.startswith("Pay $25.00 here")
    async with aiohttp.ClientSession() as http, http.get(reply.url) as response:
        page = await response.text()
    assert 'value="25.00" checked' in page


@pytest.mark.parametrize(
    ("typed", "says"), [("2", "the least accepted is $5.00"), ("5.125", "cents")]
)
async def test_topup_refuses_an_amount_no_payment_can_have(
    real_store: Store, site: tuple[str, Config], typed: str, says: str
) -> None:
    _, config = site
    reply = await topup(
        context(real_store, config), {"amount": convert(amount_param(), typed, config)}
    )
    assert says in reply.text and reply.error == "bad-request" and not reply.url


async def test_redeem_adds_a_voucher_once_and_refuses_alike(
    real_store: Store, site: tuple[str, Config]
) -> None:
    _, config = site
    batch = VoucherBatch("cmd", Money.whole(15), 1, datetime.now(UTC), "cli:test")
    [code] = await create_vouchers(real_store, batch)
    ctx = context(real_store, config)
    reply = await redeem(ctx, {"code": VOUCHER_CODES.display(code)})
    assert reply.text == "Voucher redeemed: $15.00 added to your voucher balance. Balance: $15.00."
    again = await redeem(ctx, {"code": VOUCHER_CODES.display(code)})
    wrong = await redeem(ctx, {"code": "nope"})
    assert again.text == wrong.text == REFUSAL and again.error == "not-acceptable"
    assert (await real_store.ledger.balances(ALICE)).voucher == Money.whole(15)


async def test_the_commands_are_for_account_holders_and_form_a_registry() -> None:
    registry = Registry(COMMANDS)
    assert [c.name for c in registry.commands] == ["topup", "redeem"]
    assert all(c.access == PAYERS for c in COMMANDS)
    assert not any(c.allowed(Role.STRANGER) or c.allowed(Role.LEAF) for c in COMMANDS)
    assert COMMANDS[1].params[0].rest  # a code typed with spaces is one argument


async def test_a_trials_topup_says_what_it_does_to_the_activation(
    real_store: Store, site: tuple[str, Config]
) -> None:
    """Issue 12, point 7: a trial holding $10 of the $20 that activate it reads, before it
    pays, whether this top-up activates it."""
    _base, config = site
    ctx = context(real_store, config)
    await real_store.accounts.register_trial(ALICE, ctx.now, 30)
    await real_store.ledger.credit(ALICE, Money.whole(10), reason="paid before")
    short = await topup(ctx, {"amount": Money.whole(5)})
    assert short.text.startswith(
        "That will not activate your account yet: it needs $10.00 more (you have $10.00 of $20.00)."
    )
    enough = await topup(ctx, {"amount": Money.whole(10)})
    assert enough.text.startswith("That activates your account: its first month is paid from it.")
    any_amount = await topup(ctx, {})
    assert any_amount.text.startswith(
        "Your account becomes a paid account once its balance reaches $20.00:"
        " you have $10.00, so pay $10.00 or more."
    )
    assert all(r.url in r.text.splitlines()[-1] for r in (short, enough, any_amount))

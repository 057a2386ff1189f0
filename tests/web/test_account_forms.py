"""The account page's forms over real HTTP and a real redis-server: each runs the bot's
domain function once per token; a repeat, a missing or a foreign token changes nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from payments import keys
from payments.clock import month_label
from payments.ledger.records import EntryKind
from payments.money import Money
from payments.stores import Store
from payments.web.forms import form_token
from payments.web.links import read_account_link
from tests.support.account_site import PageForm, Site, account_site, read_page
from tests.support.billing import account_of
from tests.support.history import History, year_of_history
from tests.support.webfakes import LINK_SECRET

ALICE = "alice@example.org"
OPERATOR = "cli:tester"


@pytest.fixture
async def site(real_store: Store, redis_url: str) -> AsyncIterator[Site]:
    async with account_site(real_store, redis_url) as running:
        yield running


@pytest.fixture
async def year(site: Site) -> History:
    return await year_of_history(site.store, site.config, ALICE, datetime.now(UTC))


async def state(site: Site, jid: str = ALICE) -> tuple[object, ...]:
    """Everything a form could change: ledger, balances, grants, autobuys, plan choice,
    freezes, invoices."""
    store = site.store
    account = await account_of(store, jid)
    return (
        len(await store.ledger.entries(jid)),
        await store.ledger.balances(jid),
        await store.credits.grants(jid),
        await store.credits.autobuys(jid),
        account.next_plan,
        account.freezes,
        await store.billing.open_invoices(jid),
    )


def flipped(token: str) -> str:
    """The token with its last hex digit changed."""
    return token[:-1] + ("1" if token[-1] == "0" else "0")


async def marks(site: Site) -> list[str]:
    return [k async for k in site.store.redis.scan_iter(match=keys.page_form("*", "*"))]


async def note_after(site: Site, form: PageForm, **changes: str) -> str:
    status, body, location = await site.submit(form, **changes)
    assert status == 303, body
    return (await site.page(location)).by_id["note"]


# --- the holder's actions ------------------------------------------------------------------


async def test_each_form_runs_its_domain_function(site: Site, year: History) -> None:
    link = site.link(ALICE)
    await site.store.ledger.credit(ALICE, Money(500_000), reason="top-up", kind=EntryKind.CREDIT)
    page = await site.page(link)
    said = await note_after(site, page.form("pay", "Pay $35.00"))
    assert said == f"Paid invoice {month_label(year.open_period)}: $35.00."
    assert await site.store.billing.owed(ALICE) == Money(0)

    grants = len(await site.store.credits.grants(ALICE))
    said = await note_after(site, (await site.page(link)).form("buy", "Buy 500 sms"))
    assert said.startswith("Bought sms500: 500 sms credits, valid until ")
    assert said.endswith("Paid $5.00; balance $10.00.")
    assert len(await site.store.credits.grants(ALICE)) == grants + 1

    said = await note_after(site, (await site.page(link)).form("autobuy", "autobuy of sms500 off"))
    assert said == "Autobuy of sms500 is off." and not await site.store.credits.autobuys(ALICE)
    said = await note_after(site, (await site.page(link)).form("autobuy", "autobuy of sms500 on"))
    assert said.startswith("Autobuy of sms500 is on: $5.00")

    said = await note_after(site, (await site.page(link)).form("plan"), plan="plus")
    assert said.startswith("Plus ($20.00 a month) starts at your next renewal, on ")
    assert (await account_of(site.store, ALICE)).next_plan == "plus"
    assert await site.store.ledger.check(ALICE) == []


async def test_a_refusal_of_the_domain_is_said_and_changes_nothing(
    site: Site, year: History
) -> None:
    page = await site.page(site.link(ALICE))  # the balance is $0.00
    before = await state(site)
    status, _, location = await site.submit(page.form("buy", "Buy 500 sms"))
    assert status == 303
    text = (await site.get(location))[1]
    assert 'role="alert"' in text and "Not enough balance: $5.00 missing. Top up first." in text
    assert await state(site) == before


# --- repeats and forged forms ------------------------------------------------------------


async def test_a_repeated_form_changes_nothing_and_says_so(site: Site, year: History) -> None:
    await site.store.ledger.credit(ALICE, Money(100_000), reason="top-up", kind=EntryKind.CREDIT)
    form = (await site.page(site.link(ALICE))).form("buy", "Buy 500 sms")
    assert (await site.submit(form))[0] == 303
    after_first = await state(site)
    for _ in range(3):  # the browser's back button and "send again", a replayed request
        status, body, _ = await site.submit(form)
        assert status == 409
        assert "This form was sent before. Bought sms500" in body
        assert "Nothing more was changed." in body
    assert await state(site) == after_first


async def test_forms_without_their_own_token_change_nothing(site: Site, year: History) -> None:
    await site.store.ledger.credit(ALICE, Money(100_000), reason="top-up", kind=EntryKind.CREDIT)
    await site.store.accounts.register_trial("bob@example.org", datetime.now(UTC), 30)
    link = site.link(ALICE)
    page = await site.page(link)
    buy, autobuy = page.form("buy", "Buy 500 sms"), page.form("autobuy", "sms500 off")
    another_session = (await site.page(site.link(ALICE))).form("buy", "Buy 500 sms")
    bobs = (await site.page(site.link("bob@example.org"))).form("plan")
    link_of = read_account_link(LINK_SECRET, link.rsplit("/", 1)[1], int(time.time()))
    other_secret = form_token("not our secret", link_of, "buy:sms500")
    before = await state(site)
    forged = [
        (buy.action, {"pack": "sms500"}),  # no token at all
        (buy.action, {**buy.fields, "form": ""}),
        (buy.action, {**buy.fields, "form": flipped(buy.fields["form"])}),
        (buy.action, {**buy.fields, "pack": "sms9000"}),  # a value changed under the token
        (autobuy.action, {**autobuy.fields, "form": buy.fields["form"]}),  # another action's
        (buy.action, {**buy.fields, "form": another_session.fields["form"]}),  # another link's
        (buy.action, {**buy.fields, "form": other_secret}),
        (f"{link}/plan", {**bobs.fields, "plan": "plus"}),  # bob's form on alice's page
        (f"{link}/credit", {"form": buy.fields["form"], "amount": "5", "reason": "x"}),
        (f"{link}/nothing", buy.fields),
    ]
    for url, fields in forged:
        status, body, _ = await site.post(url, fields)
        assert status == 403, (url, fields)
        assert "Nothing was changed" in body
    assert await state(site) == before
    assert await marks(site) == []  # nothing was even marked
    assert (await site.submit(buy))[0] == 303  # the real form still works once


# --- operators -------------------------------------------------------------------------------


async def test_an_operator_credits_freezes_and_unfreezes_each_after_a_confirmation(
    site: Site, year: History
) -> None:
    link = site.link(ALICE, operator=OPERATOR)
    page = await site.page(link)
    assert not [f for f in page.forms if f.action.endswith(("/pay", "/plan", "/buy"))]
    assert (
        "Operator view: your actions here are recorded as cli:tester." in (await site.get(link))[1]
    )
    before = await state(site)
    status, asked, _ = await site.submit(
        page.form("credit"), amount="40", reason="goodwill for the outage"
    )
    assert (
        status == 200 and "Credit $40.00 to alice@example.org (goodwill for the outage)?" in asked
    )
    assert await state(site) == before  # asked only
    confirm = read_page(asked).form("confirm", "Confirm")
    said = await note_after(site, confirm)
    paid = f"It paid invoice {month_label(year.open_period)}."
    assert said == f"Credited $40.00 to alice@example.org. {paid} Balance: $5.00."
    assert (await site.submit(confirm))[0] == 409  # a second confirmation credits nothing
    credits = [e for e in await site.store.ledger.entries(ALICE) if e.kind is EntryKind.CREDIT]
    assert len(credits) == 1 and credits[0].actor == OPERATOR and credits[0].ref.startswith("page:")
    assert await site.store.billing.owed(ALICE) == Money(0)

    page = await site.page(link)
    _, asked, _ = await site.submit(page.form("freeze"), kind="violation", reason="spam")
    said = await note_after(site, read_page(asked).form("confirm", "Confirm"))
    assert said == "alice@example.org is frozen (violation)."
    assert (await account_of(site.store, ALICE)).frozen
    page = await site.page(link)
    _, asked, _ = await site.submit(page.form("unfreeze", "Lift the violation freeze"))
    said = await note_after(site, read_page(asked).form("confirm", "Confirm"))
    assert said == f"Lifted the violation freeze of alice@example.org (set by {OPERATOR}: spam)."
    assert not (await account_of(site.store, ALICE)).frozen


async def test_a_confirmation_does_only_what_it_showed(site: Site, year: History) -> None:
    link = site.link(ALICE, operator=OPERATOR)
    _, asked, _ = await site.submit((await site.page(link)).form("credit"), amount="5", reason="r")
    confirm = read_page(asked).form("confirm", "Confirm")
    before = await state(site)
    for changed in ({"amount": "500"}, {"reason": "other"}, {"op": "freeze", "kind": "legal"}):
        assert (await site.submit(confirm, **changed))[0] == 403
    said = await note_after(site, (await site.page(link)).form("credit"), amount="-5", reason="r")
    assert said.startswith("Amount: '-5' is not an amount like 20")
    assert await state(site) == before


async def test_each_link_runs_only_its_own_kind_of_action(site: Site, year: History) -> None:
    holder = read_account_link(LINK_SECRET, site.link(ALICE).rsplit("/", 1)[1], int(time.time()))
    before = await state(site)
    holder_credit = form_token(LINK_SECRET, holder, "credit")
    status, _, _ = await site.post(
        f"{site.link(ALICE)}/credit", {"form": holder_credit, "amount": "5", "reason": "x"}
    )
    assert status == 403  # a holder's link cannot credit, even with a well-made token
    op_link = site.link(ALICE, operator=OPERATOR)
    op = read_account_link(LINK_SECRET, op_link.rsplit("/", 1)[1], int(time.time()))
    status, _, _ = await site.post(f"{op_link}/pay", {"form": form_token(LINK_SECRET, op, "pay")})
    assert status == 403  # an operator's link does not pay on the holder's behalf
    assert await state(site) == before

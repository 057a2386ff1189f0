"""The group commands through the dispatcher (access, parsing, confirmation), over a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from bot.commands import build_registry
from bot.commands.groups import ADDED
from bot.commands.model import Role
from bot.dispatch import Dispatcher
from payments.codes import REFUSAL
from payments.config import Config
from payments.store.connection import open_redis
from payments.stores import Store
from payments.usage import flow as metering
from payments.usage.flow import Meter
from payments.usage.rules import UsageEvent
from tests.support.billing import T0, days, kinds, outbox, paid_account, usd
from tests.support.groups import JOINED_AT, LEAF, MAIN, main_and_trial

CONFIG = Config()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_url))
    await store.redis.flushdb()
    await main_and_trial(store)
    yield store
    await store.close()


def bot(store: Store, now: datetime = JOINED_AT) -> Dispatcher:
    return Dispatcher(build_registry(), store, CONFIG, clock=lambda: now)


async def say(store: Store, jid: str, text: str, now: datetime = JOINED_AT) -> str:
    reply = await bot(store, now).chat(jid, text)
    assert reply is not None
    return reply.text


def code_in(body: str, verb: str) -> str:
    return body.split(f"'{verb} ")[1].split("'")[0]


async def test_add_answers_the_same_whatever_the_jid_and_invites_only_a_trial(
    store: Store,
) -> None:
    await paid_account(store, "paid@example.org", T0, "20")
    await store.accounts.register_trial("leafy@example.org", T0, 30)
    await store.accounts.register_trial("rich@example.org", T0, 30)
    await store.ledger.credit("rich@example.org", usd("5"), reason="top-up")
    targets = ("nobody@example.org", "paid@example.org", MAIN, "rich@example.org", LEAF)
    replies = {await say(store, MAIN, f"add {jid}") for jid in targets}
    assert replies == {ADDED}
    for jid in targets[:-1]:
        assert "invitation" not in await kinds(store, jid), jid
    assert await kinds(store, LEAF) == ["invitation"]


async def test_the_invitee_accepts_and_both_see_who_pays(store: Store) -> None:
    await say(store, MAIN, f"add {LEAF}")
    [invitation] = await outbox(store, LEAF)
    assert "accept CODE — " in await say(store, LEAF, "help more")
    answer = await say(store, LEAF, f"accept {code_in(invitation.body, 'accept')}")
    assert answer.startswith(f"Your account is now paid for by {MAIN}")
    await store.numbers.assign(LEAF, "+15550100002")
    await store.numbers.assign(MAIN, "+15550100001")
    meter = Meter(store, CONFIG.usage)
    events = [UsageEvent(f"e{i}", LEAF, "sms", 1, JOINED_AT) for i in range(3)]
    assert (await metering.ingest(meter, events, JOINED_AT)).count("counted") == 3
    mine = await say(store, MAIN, "numbers")
    assert f"{LEAF}: +15550100002, basic $10.00 a month; used 3 SMS" in mine
    assert f"{MAIN} (you): +15550100001, basic $10.00 a month; used nothing yet" in mine
    theirs = await say(store, LEAF, "numbers")
    assert theirs.startswith(f"Your account is paid for by {MAIN} (+15550100001).")
    balance = str((await store.ledger.balances(MAIN)).total)
    assert balance == "$24.84"  # never shown to the leaf
    assert balance not in theirs and balance not in await say(store, LEAF, "balance")
    assert (await kinds(store, MAIN))[-1] == "leaf_joined"


async def test_a_main_that_cannot_pay_hears_why_and_the_jid_still_tells_nothing(
    store: Store,
) -> None:
    await store.ledger.debit(MAIN, usd("29"), reason="spent")
    answer = await say(store, MAIN, "add nobody@example.org")
    assert answer.startswith("not enough balance: $4.16 missing") and "topup" in answer
    assert await say(store, MAIN, f"add {LEAF}") == answer
    assert await kinds(store, LEAF) == []
    assert "Only a paid account" in await say(store, LEAF, f"add {MAIN}")


async def test_register_with_a_referral_code_and_without(store: Store) -> None:
    answer = await say(store, MAIN, "invite")
    code = answer.split(": ", 1)[1].split("\n")[0]
    assert code in await say(store, MAIN, "invites")
    welcome = await say(store, "new@example.org", f"register {code}")
    assert welcome.startswith(f"Welcome! Your account is now paid for by {MAIN}")
    assert await say(store, "late@example.org", f"register {code}") == REFUSAL
    assert "trial runs until" in await say(store, "late@example.org", "register")
    assert await say(store, "other@example.org", "register NOT-A-CODE") == REFUSAL
    second = (await say(store, MAIN, "invite 2")).split(": ", 1)[1].split("\n")[0]
    assert "Revoked" in await say(store, MAIN, f"revoke {second}")
    assert await say(store, "other@example.org", f"register {second}") == REFUSAL
    assert "no open referral code" in await say(store, MAIN, f"revoke {second}")
    assert "USES is a number" in await say(store, MAIN, "invite many")


async def test_remove_asks_first_then_both_sides_are_told(store: Store) -> None:
    await say(store, MAIN, f"add {LEAF}")
    await say(store, LEAF, f"accept {code_in((await outbox(store, LEAF))[0].body, 'accept')}")
    assert "do not pay for" in await say(store, MAIN, "remove nobody@example.org")
    question = await say(store, MAIN, f"remove {LEAF}")
    assert question.startswith(f"Stop paying for {LEAF}? It stays paid until 2026-02-05")
    assert "Cancelled" in await say(store, MAIN, "no")
    assert await store.groups.main_of(LEAF) == MAIN
    await say(store, MAIN, f"remove {LEAF}")
    assert "You no longer pay for" in await say(store, MAIN, "yes", JOINED_AT + days(1))
    assert (await kinds(store, MAIN))[-1] == "leaf_left"
    assert (await kinds(store, LEAF))[-1] == "leaf_left"
    assert await store.groups.main_of(LEAF) == ""


async def test_leave_asks_first_then_both_sides_are_told(store: Store) -> None:
    await say(store, MAIN, f"add {LEAF}")
    await say(store, LEAF, f"accept {code_in((await outbox(store, LEAF))[0].body, 'accept')}")
    question = await say(store, LEAF, "leave")
    assert question.startswith(f"Leave the group {MAIN} pays for?") and "$20.00" in question
    answer = await say(store, LEAF, "yes")
    assert answer.startswith(f"You left the group {MAIN} pays for")
    assert [n.kind for n in await outbox(store, MAIN)][-1] == "leaf_left"
    assert [n.kind for n in await outbox(store, LEAF)][-1] == "leaf_left"
    assert "not paid for by another" in await say(store, LEAF, "leave")  # a trial again


async def test_declining_and_codes_of_others(store: Store) -> None:
    await say(store, MAIN, f"add {LEAF}")
    code = code_in((await outbox(store, LEAF))[0].body, "decline")
    assert await say(store, MAIN, f"accept {code}") == (
        "Only a trial account can accept an offer to be paid for. Without an account, "
        "send 'register CODE'."
    )
    assert "Declined" in await say(store, LEAF, f"decline {code}")
    assert await say(store, LEAF, f"accept {code}") == REFUSAL
    before = [n.kind for n in await outbox(store, MAIN)]
    assert "leaf_joined" not in before


def test_each_role_sees_only_its_group_commands() -> None:
    registry = build_registry()
    group_commands = {"numbers", "add", "invite", "invites", "revoke", "accept", "decline"}
    group_commands |= {"remove", "leave"}

    def names(role: Role) -> set[str]:
        return {c.name for c in registry.for_role(role)} & group_commands

    assert names(Role.PAID) == {"numbers", "add", "invite", "invites", "revoke", "remove"}
    assert names(Role.LEAF) == {"numbers", "leave"}
    assert names(Role.TRIAL) == {"numbers", "accept", "decline"}
    assert names(Role.STRANGER) == set()
    register = registry.match(["register"])[0]
    assert register is not None and register.allowed(Role.STRANGER)
    assert [p.name for p in register.params] == ["code"] and not register.params[0].required

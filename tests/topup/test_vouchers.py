"""Vouchers: created by operators, redeemed once, refusals all alike, wrong codes rate-limited."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from accountbot.stack import Stack
from payments import keys
from payments.codes import REFUSAL, VOUCHER_CODES, CodeRefused
from payments.config import BillingConfig
from payments.ledger.records import Balance, EntryKind
from payments.money import Money
from payments.stores import Store
from payments.topup.flow import create_vouchers, redeem_voucher
from payments.topup.vouchers import Redeemed, VoucherBatch

ALICE, BOB = "alice@localhost", "bob@localhost"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LIMIT = 10
BATCHES = itertools.count()
CODE_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}")


async def make(
    store: Store, count: int = 1, amount: int = 10, expires_at: datetime | None = None
) -> list[str]:
    batch = VoucherBatch(
        name=f"batch{next(BATCHES)}",
        amount=Money.whole(amount),
        count=count,
        created_at=NOW,
        created_by="cli:test",
        expires_at=expires_at,
    )
    return await create_vouchers(store, batch)


async def redeem(store: Store, jid: str, code: str, now: datetime = NOW) -> Redeemed | str:
    try:
        return await redeem_voucher(
            store, jid, code, now=now, attempts_per_hour=LIMIT, policy=BillingConfig()
        )
    except CodeRefused as exc:
        return str(exc)


def accountbot(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accountbot", "--config", str(stack.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_admin_voucher_create_prints_long_random_codes(
    redis_stack: Stack, real_store: Store
) -> None:
    create = ("admin", "voucher", "create")
    result = accountbot(redis_stack, *create, "--amount", "10", "--count", "5", "--name", "spring")
    assert result.returncode == 0, result.stderr
    codes = result.stdout.split()
    assert len(codes) == 5 and len(set(codes)) == 5
    assert all(CODE_RE.fullmatch(code) for code in codes)
    assert "created 5 vouchers of $10.00 in batch spring" in result.stderr
    again = accountbot(redis_stack, *create, "--amount", "5", "--count", "1", "--name", "spring")
    assert again.returncode == 1 and "exists already" in again.stderr and not again.stdout
    show = accountbot(redis_stack, "admin", "voucher", "show", codes[0].lower())
    assert show.returncode == 0 and "$10.00" in show.stdout and "not redeemed" in show.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--expires", "2001-01-01"], "in the past"),
        (["--expires", "next week"], "not a date"),
        (["--count", "0"], "count must be"),
        (["--name", "bad name!"], "batch name"),
        (["--amount", "1e3"], "amount"),
    ],
)
def test_admin_voucher_create_refuses_bad_input_and_writes_nothing(
    redis_stack: Stack, real_store: Store, args: list[str], says: str
) -> None:
    base = {"--amount": "10", "--count": "2", "--name": "fine"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [part for item in base.items() for part in item]
    result = accountbot(redis_stack, "admin", "voucher", "create", *argv)
    assert result.returncode == 2 and says in result.stderr and not result.stdout
    assert result.stderr.count("\n") == 1


async def test_a_code_adds_to_the_voucher_balance_once(real_store: Store) -> None:
    [code] = await make(real_store)
    done = await redeem(real_store, ALICE, VOUCHER_CODES.display(code))
    assert isinstance(done, Redeemed) and done.amount == Money.whole(10)
    balances = await real_store.ledger.balances(ALICE)
    assert balances.voucher == Money.whole(10) and not balances.prepaid_exists
    [entry] = await real_store.ledger.entries(ALICE)
    assert entry.balance is Balance.VOUCHER and entry.kind is EntryKind.VOUCHER
    assert entry.ref == f"voucher:{code}"
    assert await redeem(real_store, ALICE, code) == REFUSAL
    assert await redeem(real_store, BOB, code) == REFUSAL
    assert (await real_store.ledger.balances(ALICE)).voucher == Money.whole(10)
    assert not await real_store.ledger.entries(BOB)


async def test_a_code_sent_by_20_people_at_once_credits_one_of_them(real_store: Store) -> None:
    [code] = await make(real_store)
    jids = [f"user{i}@localhost" for i in range(20)]
    results = await asyncio.gather(*(redeem(real_store, jid, code) for jid in jids))
    assert sum(isinstance(r, Redeemed) for r in results) == 1
    assert [r for r in results if not isinstance(r, Redeemed)] == [REFUSAL] * 19
    credited = [(await real_store.ledger.balances(j)).voucher for j in jids]
    assert sorted(c.units for c in credited) == [0] * 19 + [100_000]


async def test_typing_is_forgiving(real_store: Store) -> None:
    [code] = await make(real_store)
    typed = " ".join(code[i : i + 4] for i in range(0, 20, 4)).lower().replace("0", "o")
    assert VOUCHER_CODES.normalise(typed) == code
    assert isinstance(await redeem(real_store, ALICE, typed), Redeemed)


async def test_every_refusal_reads_the_same(real_store: Store) -> None:
    [used] = await make(real_store)
    [expiring] = await make(real_store, count=1, amount=7, expires_at=NOW + timedelta(days=1))
    assert isinstance(await redeem(real_store, BOB, used), Redeemed)
    answers = {
        "unknown": await redeem(real_store, ALICE, "7KQ2M-XD9PA-0RZ4N-W8HCT-3FYBE"),
        "malformed": await redeem(real_store, ALICE, "abc"),
        "not ascii": await redeem(real_store, ALICE, "ÄÖÜ"),
        "used by another": await redeem(real_store, ALICE, used),
        "expired": await redeem(real_store, ALICE, expiring, now=NOW + timedelta(days=2)),
    }
    assert set(answers.values()) == {REFUSAL} == {"That code cannot be used."}
    assert not await real_store.ledger.entries(ALICE)
    # The expired code still works before its expiry, for someone else.
    assert isinstance(await redeem(real_store, BOB, expiring, now=NOW), Redeemed)


async def test_wrong_codes_are_rate_limited_per_sender(real_store: Store) -> None:
    [good] = await make(real_store)
    for i in range(LIMIT):
        assert await redeem(real_store, ALICE, f"WRONG-CODE-{i:04d}-AAAAA-BBBBB") == REFUSAL
    # Over the limit: even a good code is refused, with the same words, and not spent.
    assert await redeem(real_store, ALICE, good) == REFUSAL
    assert not await real_store.ledger.entries(ALICE)
    ttl = await real_store.redis.ttl(keys.code_failures(ALICE))
    assert 0 < ttl <= 3600
    # Another sender is not limited by Alice's failures, and the code was not used.
    assert isinstance(await redeem(real_store, BOB, good), Redeemed)
    # After the hour (the key's TTL), Alice may try again.
    await real_store.redis.delete(keys.code_failures(ALICE))
    [another] = await make(real_store, amount=3)
    assert isinstance(await redeem(real_store, ALICE, another), Redeemed)


async def test_a_crash_between_claim_and_credit_is_repaired_by_the_same_sender(
    real_store: Store,
) -> None:
    [code] = await make(real_store)
    # The first attempt marked the code used by Alice, then died before the credit.
    claim, amount, _batch = await real_store.vouchers.claim(
        code, ALICE, NOW, currency="USD", any_currency=False
    )
    assert claim == 1 and amount == Money.whole(10)
    assert not await real_store.ledger.entries(ALICE)
    assert await redeem(real_store, BOB, code) == REFUSAL  # still Alice's
    done = await redeem(real_store, ALICE, code)  # Alice sends it again: credited now
    assert isinstance(done, Redeemed) and done.voucher_balance == Money.whole(10)
    assert await redeem(real_store, ALICE, code) == REFUSAL  # and only once
    assert len(await real_store.ledger.entries(ALICE)) == 1
    assert (await real_store.vouchers.get(code))["redeemed_by"] == ALICE

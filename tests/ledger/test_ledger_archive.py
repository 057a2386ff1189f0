"""The ledger archive against the real redis-server: old months leave the stream for the
archive's files, and every reader still sees them, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from payments import keys
from payments.cards.records import Dispute, DisputeStatus
from payments.chores.archive import Archiving, archive_account
from payments.clock import month_start
from payments.ledger.archive import ArchiveError, LedgerArchive
from payments.ledger.months import ledger_months
from payments.ledger.records import Balance, EntryKind, LedgerEntry, sum_by_balance
from payments.money import Money
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.archive import (
    ALICE,
    ARCHIVED_AT,
    PAYMENT_REF,
    archive_alice,
    two_old_months,
)
from tests.support.billing import T0, basic_plan, paid_account, top_up, usd
from tests.support.cards import payment_of


@pytest.fixture
async def archived_store(redis_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_url), archive=LedgerArchive(tmp_path))
    await store.redis.flushdb()
    try:
        yield store
    finally:
        await store.close()


def old(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    return [e for e in entries if e.at < month_start("202603")]


async def test_old_months_leave_the_stream_and_their_sum_is_brought_forward(
    archived_store: Store, tmp_path: Path
) -> None:
    store = archived_store
    await two_old_months(store)
    before = await store.ledger.entries(ALICE)
    done = await archive_alice(store, tmp_path)
    assert done.entries == len(old(before)) > 0 and done.invoices == 1
    # February is the last period renewed: its invoice stays with the account
    assert await store.redis.zrange(keys.invoices(ALICE), 0, -1) == ["202602"]
    stream = await store.ledger.entries(ALICE)
    brought = [e for e in stream if e.kind is EntryKind.ARCHIVED]
    assert [e.balance for e in brought] == [Balance.PREPAID]
    assert brought[0].amount == sum_by_balance(old(before), "USD")[Balance.PREPAID]
    assert [e.id for e in stream if e.kind is not EntryKind.ARCHIVED] == [
        e.id for e in before if e not in old(before)
    ]
    assert await store.ledger.check(ALICE) == []
    assert await store.ledger.all_entries(ALICE) == before


async def test_a_second_run_changes_nothing(archived_store: Store, tmp_path: Path) -> None:
    store = archived_store
    await two_old_months(store)
    await archive_alice(store, tmp_path)
    stream = await store.redis.xrange(keys.transactions(ALICE))
    files = {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl.gz")}
    again = await archive_alice(store, tmp_path)
    assert (again.entries, again.invoices) == (0, 0)
    assert await store.redis.xrange(keys.transactions(ALICE)) == stream
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.jsonl.gz")} == files


async def test_a_replayed_archived_payment_credits_nothing(
    archived_store: Store, tmp_path: Path
) -> None:
    store = archived_store
    await two_old_months(store)
    await archive_alice(store, tmp_path)
    assert await store.redis.hget(keys.idempotency(ALICE), PAYMENT_REF) is None
    balance = (await store.ledger.balances(ALICE)).prepaid
    again = await store.ledger.credit(
        ALICE, usd("7.5"), reason="replay", kind=EntryKind.PAYMENT, ref=PAYMENT_REF
    )
    assert not again.applied and again.entry_id == "archived"
    assert (await store.ledger.balances(ALICE)).prepaid == balance


async def test_history_and_the_account_page_read_archived_months(
    archived_store: Store, tmp_path: Path
) -> None:
    store = archived_store
    await two_old_months(store)
    january = month_start("202601"), month_start("202602")
    months = ["202601", "202602", "202603"]
    before_between = await store.ledger.entries_between(ALICE, *january)
    before_months = await ledger_months(store.ledger, ALICE, months)
    before_invoices = await store.billing.invoices(ALICE)
    await archive_alice(store, tmp_path)
    assert before_between and await store.ledger.entries_between(ALICE, *january) == (
        before_between
    )
    assert await ledger_months(store.ledger, ALICE, months) == before_months
    assert await store.billing.invoices(ALICE) == before_invoices
    assert await store.redis.exists(keys.invoice(ALICE, "202601")) == 0
    assert await store.billing.invoice(ALICE, "202601") == before_invoices[-1]


async def test_an_invoice_still_open_stays_in_redis(archived_store: Store, tmp_path: Path) -> None:
    store = archived_store
    await two_old_months(store)
    await store.redis.hset(keys.invoice(ALICE, "202601"), mapping={"status": "open", "due": "1"})
    done = await archive_alice(store, tmp_path)
    assert done.invoices == 0
    assert await store.redis.hget(keys.invoice(ALICE, "202601"), "status") == "open"


async def test_a_stream_changed_under_the_chore_is_not_trimmed(
    archived_store: Store, tmp_path: Path
) -> None:
    store = archived_store
    await two_old_months(store)
    batch = await store.ledger.archivable(ALICE, "202603", 100)
    await store.redis.xdel(keys.transactions(ALICE), batch[0][0])
    stream = await store.redis.xrange(keys.transactions(ALICE))
    trimmed = await store.ledger.trim_archived(
        ALICE, batch, before="202603", at=ARCHIVED_AT, actor="chore:test"
    )
    assert not trimmed.applied and "does not start there" in trimmed.why
    assert await store.redis.xrange(keys.transactions(ALICE)) == stream


async def test_a_later_pass_archives_the_brought_forward_sum_with_the_newer_entries(
    archived_store: Store, tmp_path: Path
) -> None:
    store = archived_store
    await two_old_months(store)
    await archive_alice(store, tmp_path)
    await store.ledger.credit(
        ALICE, Money.whole(2), reason="april", at=ARCHIVED_AT + timedelta(days=20)
    )
    whole = await store.ledger.all_entries(ALICE)
    later = ARCHIVED_AT + timedelta(days=75)
    archiving = Archiving(store, LedgerArchive(tmp_path), "202605", later, "chore:test")
    done = await archive_account(archiving, ALICE)
    [brought] = await store.ledger.entries(ALICE)
    assert done.entries == 3 and brought.kind is EntryKind.ARCHIVED  # March, April, the sum
    assert brought.amount == (await store.ledger.balances(ALICE)).prepaid
    assert await store.ledger.check(ALICE) == []
    assert await store.ledger.all_entries(ALICE) == whole


def test_an_unreadable_archive_file_is_an_error_not_an_empty_month(tmp_path: Path) -> None:
    archive = LedgerArchive(tmp_path)
    path = archive.account_dir(ALICE) / "2026.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not gzip")
    with pytest.raises(ArchiveError, match="unreadable archive"):
        archive.entries(ALICE)


def test_a_long_jid_is_named_by_its_digest(tmp_path: Path) -> None:
    jid = "x" * 300 + "@example.org"
    folder = LedgerArchive(tmp_path).account_dir(jid)
    assert folder.name.startswith("sha256-") and len(folder.name) < 100


async def test_a_replayed_dispute_of_an_archived_month_takes_nothing_again(
    archived_store: Store, tmp_path: Path
) -> None:
    """Only the refs of scripts that also look in the archived refs leave the idempotency
    hash: a dispute's (``card_dispute.lua`` looks in the hash alone) stays there."""
    store = archived_store
    await basic_plan(store)
    await paid_account(store, ALICE, T0, amount="20")
    february = T0 + timedelta(days=35)
    await payment_of(store, ALICE, "pi_1", "10", february)
    dispute = Dispute("dp_1", "pi_1", usd("10"), DisputeStatus.OPEN, february)

    async def dispute_reported() -> bool:
        done, _ = await store.card_returns.open_dispute(
            ALICE, dispute, reason="dispute dp_1", freeze='{"who": "x"}', actor="stripe"
        )
        return done

    assert await dispute_reported()
    await top_up(store, ALICE, "3", ARCHIVED_AT - timedelta(days=5), ref="stripe:cs_mar")
    assert (await archive_alice(store, tmp_path)).entries > 0
    balance = (await store.ledger.balances(ALICE)).prepaid
    assert not await dispute_reported()
    assert (await store.ledger.balances(ALICE)).prepaid == balance

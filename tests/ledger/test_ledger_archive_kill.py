"""Kill the archiving of one account at every step, then run it again: the books are the
same as after a run that was never killed (tests/support/archive_kill_child.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from payments import keys
from payments.chores.archive import Step
from payments.ledger.archive import LedgerArchive
from payments.ledger.records import EntryKind
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support import ROOT
from tests.support.archive import ALICE, PAYMENT_REF, archive_alice, two_old_months
from tests.support.billing import usd
from tests.support.streams import stream as stream_of
from tests.support.streams import text

# (step, which time it is reached): the ledger's file is written first, the invoices' second.
KILL_POINTS = [
    (Step.READ, 1),
    (Step.WRITTEN, 1),
    (Step.RENAMED, 1),
    (Step.VERIFIED, 1),
    (Step.TRIMMED, 1),
    (Step.WRITTEN, 2),
    (Step.RENAMED, 2),
    (Step.VERIFIED, 2),
    (Step.INVOICES_DROPPED, 1),
]


@pytest.fixture
async def fresh(redis_url: str) -> AsyncIterator[Store]:
    store = Store(open_redis(redis_url))
    try:
        yield store
    finally:
        await store.close()


async def written(store: Store) -> dict[str, int]:
    """The books as the flows wrote them: each entry's position by its stream id (two
    builds of the same books differ only in their ids, the times they were written)."""
    await store.redis.flushdb()
    await two_old_months(store)
    stream = await stream_of(store.redis, keys.transactions(ALICE))
    return {entry_id: n for n, (entry_id, _) in enumerate(stream)}


async def books(store: Store, root: Path, ids: dict[str, int]) -> dict[str, Any]:
    """What a run leaves: the stream, the idempotency keys, the invoices, and every entry
    and invoice ever written; entries named by their position (``archived``: -1)."""
    with_archive = Store(store.redis, archive=LedgerArchive(root))
    stream = await stream_of(store.redis, keys.transactions(ALICE))
    refs = await store.redis.hgetall(keys.idempotency(ALICE))
    whole = await with_archive.ledger.all_entries(ALICE)
    return {
        "stream": [(ids.get(i, -1), f) for i, f in stream if f["kind"] != EntryKind.ARCHIVED],
        "brought": [f["amount"] for _, f in stream if f["kind"] == EntryKind.ARCHIVED],
        "refs": {ref: ids.get(text(value), -1) for ref, value in refs.items()},
        "archived_refs": await store.redis.smembers(keys.idempotency_archived(ALICE)),
        "invoices_in_redis": await store.redis.zrange(keys.invoices(ALICE), 0, -1),
        "invoices": await with_archive.billing.invoices(ALICE),
        "whole": [(ids[e.id], replace(e, id="")) for e in whole],
        "mismatches": await store.ledger.check(ALICE),
        "archive": sorted(
            (ids[r.id], r.fields, r.currency) for r in LedgerArchive(root).entries(ALICE)
        ),
    }


async def unkilled(store: Store, root: Path) -> dict[str, Any]:
    ids = await written(store)
    await archive_alice(store, root)
    return await books(store, root, ids)


@pytest.mark.parametrize(("step", "nth"), KILL_POINTS)
async def test_a_run_killed_at_a_step_is_finished_by_the_next(
    fresh: Store, redis_url: str, tmp_path: Path, step: Step, nth: int
) -> None:
    expected = await unkilled(fresh, tmp_path / "unkilled")
    ids = await written(fresh)
    root = tmp_path / "killed"
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.archive_kill_child",
            redis_url,
            str(root),
            step,
            str(nth),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, f"not killed at {step} #{nth}: {child.stdout}{child.stderr}"
    await archive_alice(fresh, root)
    assert await books(fresh, root, ids) == expected
    assert not list(root.rglob("*.tmp"))  # a killed run's temporary file is cleared
    replay = await fresh.ledger.credit(ALICE, usd("7.5"), reason="replay", ref=PAYMENT_REF)
    assert not replay.applied

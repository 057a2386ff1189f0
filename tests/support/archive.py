"""Helpers of the ledger archive's tests (tests/ledger/test_ledger_archive*.py): a year of
one paid account's books dated in the past, archived by ``archive_account``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from payments.billing.renewal import renew_account
from payments.chores.archive import Archived, Archiving, StepHook, archive_account
from payments.ledger.archive import LedgerArchive
from payments.stores import Store
from tests.support.billing import T0, basic_plan, cycle_of, paid_account, top_up

ALICE = "alice@example.org"
PAYMENT_REF = "stripe:cs_feb"  # a provider's payment in a month that is archived
BEFORE = "202603"  # entries and paid invoices dated before March 2026 are archived
ARCHIVED_AT = datetime(2026, 3, 20, 12, 0, tzinfo=T0.tzinfo)


async def two_old_months(store: Store) -> None:
    """ALICE: activated in January (invoice paid), renewed in February (paid), a payment
    in February, a top-up in March (it stays in Redis)."""
    await basic_plan(store)
    await paid_account(store, ALICE, T0, amount="20")
    await top_up(store, ALICE, "7.5", T0 + timedelta(days=20), ref=PAYMENT_REF)
    await renew_account(cycle_of(store), ALICE, T0 + timedelta(days=31))
    await top_up(store, ALICE, "3", ARCHIVED_AT - timedelta(days=5), ref="stripe:cs_mar")


def quiet(_step: str) -> None:
    return None


async def archive_alice(store: Store, root: Path, hook: StepHook = quiet) -> Archived:
    archiving = Archiving(store, LedgerArchive(root), BEFORE, ARCHIVED_AT, "chore:test", hook)
    return await archive_account(archiving, ALICE)

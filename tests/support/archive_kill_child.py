"""``python -m tests.support.archive_kill_child REDIS_URL ARCHIVE_DIR STEP N``: archive ALICE's
old months (tests/support/archive.py) and SIGKILL this very process the N-th time the
archiving reaches STEP (tests/ledger/test_ledger_archive_kill.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from payments.ledger.archive import LedgerArchive
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.archive import archive_alice


async def main(url: str, root: str, step: str, nth: str) -> None:
    reached: Counter[str] = Counter()

    def die(name: str) -> None:
        reached[name] += 1
        if name == step and reached[name] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)

    store = Store(open_redis(url), archive=LedgerArchive(Path(root)))
    await archive_alice(store, Path(root), die)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

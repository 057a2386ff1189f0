"""``python -m tests.support.moves_kill_child REDIS_URL CODE STEP``: New claims the move CODE
of Old and this very process is SIGKILLed at STEP (tests/moves/test_moves_kill.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from payments.moves.flow import MoveFlow, claim
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.billing import POLICY
from tests.support.moves import MOVED_AT, NEW


async def main(url: str, code: str, step: str) -> None:
    async def die(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    store = Store(open_redis(url))
    await claim(MoveFlow(store, POLICY, NEW, die), NEW, code, MOVED_AT, attempts=10)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

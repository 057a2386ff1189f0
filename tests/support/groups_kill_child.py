"""``python -m tests.support.groups_kill_child REDIS_URL LEAF STEP``: join LEAF to the test main and
SIGKILL this very process at STEP (tests/test_groups_kill.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from payments.groups import flow as group_flows
from payments.store.connection import open_redis
from payments.stores import Store
from tests.support.groups import JOINED_AT, MAIN, flow_of


async def main(url: str, leaf: str, step: str) -> None:
    async def die(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    store = Store(open_redis(url))
    await group_flows.join(flow_of(store, die), MAIN, leaf, JOINED_AT)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

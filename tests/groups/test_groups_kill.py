"""SIGKILL a real process at every step boundary of a join; the re-run charges the main once.

The child (tests/support/groups_kill_child.py) runs the join against the test
stack's redis-server and kills itself at the named step: nothing after it
runs, no ``finally``, no cleanup, as when a host dies. The parent then runs
the same join again, in-process.
"""

from __future__ import annotations

import subprocess
import sys

from payments.groups import flow as group_flows
from payments.groups.flow import JOIN_STEPS
from payments.stores import Store
from tests.support.billing import POLICY, T0
from tests.support.groups import (
    JOINED_AT,
    MAIN,
    PRORATED,
    assert_joined_once,
    flow_of,
    main_and_trial,
)


async def test_a_join_killed_at_every_step_is_completed_once(
    redis_url: str, real_store: Store
) -> None:
    await main_and_trial(real_store, main_amount="100")
    for step in JOIN_STEPS:
        leaf = f"kill-{step.value}@example.org"
        await real_store.accounts.register_trial(leaf, T0, POLICY.trial_days)
        argv = [
            sys.executable,
            "-m",
            "tests.support.groups_kill_child",
            redis_url,
            leaf,
            step.value,
        ]
        child = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        assert child.returncode == -9, (step, child.stderr.decode())
        await group_flows.join(flow_of(real_store), MAIN, leaf, JOINED_AT)
        await assert_joined_once(real_store, MAIN, leaf, PRORATED)
    group = await real_store.groups.of(MAIN)
    assert group is not None and len(group.leaves) == len(JOIN_STEPS)
    charged = [e for e in await real_store.ledger.entries(MAIN) if e.ref.startswith("join:")]
    assert len(charged) == len(JOIN_STEPS)

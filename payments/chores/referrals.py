"""The ``reward-referrals`` chore: the newcomers whose reward is due (``payment-referral_due``)
are decided, each once (``payments/referrals/flow.py``)."""

from __future__ import annotations

from payments import keys
from payments.chores.runner import ChoreReport, ChoreRun, due, each
from payments.referrals.flow import decide_reward


async def reward_referrals(run: ChoreRun, report: ChoreReport, shard: int) -> None:
    """Reward (or withhold) the referrers of newcomers whose first payment has settled."""
    cycle, days = run.cycle, run.referral.settle_days

    async def handle(newcomer: str) -> str:
        if run.dry_run:
            run.progress(f"would decide the referral reward of {newcomer}")
            return "would_decide"
        return await decide_reward(cycle, newcomer, run.now, days)

    await each(run, report, await due(cycle, keys.REFERRALS_DUE, shard, run.now), handle)

"""One history: a seed, a number of steps, crashes and races, the oracle after each step."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from payments.accounts.store import Registered
from payments.billing.registration import register as register_account
from payments.cards.charging import STALE
from payments.errors import PaymentsError
from payments.topup.providers.base import ProviderError
from tests.simulator import oracle
from tests.simulator.actions import ACTIONS, RACERS, Action, chores, deliver
from tests.simulator.card_actions import card_work
from tests.simulator.card_actions import deliver as deliver_card_event
from tests.simulator.card_oracle import check_cards_settled
from tests.simulator.faults import CURRENT, Actor, Fuse, SimulatedCrash
from tests.simulator.world import World, open_world

CRASH_RATE = 0.12  # of actions run with a fuse
# What an action may end with besides success: a domain refusal, or a provider that did
# not answer (the user is told to try again; nothing is half done).
REFUSALS = (PaymentsError, ProviderError)
RACE_RATE = 0.2  # of steps that run two actions at once


@dataclass
class Outcome:
    seed: int
    steps: int = 0
    crashes: int = 0
    races: int = 0
    refusals: int = 0
    seconds: float = 0.0
    violation: str = ""
    log: list[str] = field(default_factory=list)


async def history(redis_url: str, seed: int, steps: int = 200, accounts: int = 8) -> Outcome:
    return await play(await open_world(redis_url, seed, accounts), seed, steps)


async def play(world: World, seed: int, steps: int) -> Outcome:
    """Run a history in ``world``, the oracle after each step; the store is closed after."""
    started = time.monotonic()
    outcome = Outcome(seed)
    try:
        for step in range(steps):
            world.steps = step
            await _step(world, outcome)
            accounts_now = await oracle.check(world)
            if world.chores_current:
                oracle.check_deadlines(world, accounts_now)
        await _settle(world)
        accounts_now = await oracle.check(world)
        oracle.check_deadlines(world, accounts_now)
        await oracle.check_settled(world, accounts_now)
        await check_cards_settled(world)
        await _reopen_closed_with_money(world, accounts_now)
    except oracle.Violation as exc:
        outcome.violation = str(exc)
        world.log += await oracle.describe(world, str(exc))
    finally:
        outcome.steps, outcome.crashes = world.steps + 1, world.crashes
        outcome.seconds = time.monotonic() - started
        outcome.log = world.log
        await world.close()
    return outcome


async def _step(w: World, outcome: Outcome) -> None:
    """One action, or a race of two; the deadlines are checked after a lone ``chore all``."""
    rng = w.rng
    w.chores_current = False
    if rng.random() < RACE_RATE:
        outcome.races += 1
        picked = [rng.choice(RACERS) for _ in range(2)]
        w.say("race: " + " | ".join(a.__name__ for a in picked))
    else:
        actions, weights = zip(*ACTIONS.items(), strict=True)
        picked = rng.choices(actions, weights)
    jobs = [(_actor(w, action), _job(w, action)) for action in picked]
    if len(jobs) == 1:
        results = [await _alone(*jobs[0])]
    else:
        results = await w.conductor.run(jobs)
        w.chores_current = False  # what raced with the chores may be due now
    for actor, result in zip((a for a, _ in jobs), results, strict=True):
        if isinstance(result, SimulatedCrash):
            w.crashes += 1
            w.say(f"crash: {actor.name} died after {actor.commands} commands")
            await w.forget_locks()
            if actor.name == "chores":
                w.chores_current = False
        elif isinstance(result, REFUSALS):
            outcome.refusals += 1
            w.say(f"refused: {actor.name}: {type(result).__name__}: {result}")
        elif isinstance(result, BaseException):
            raise result


def _actor(w: World, action: Action) -> Actor:
    fuse = Fuse(w.rng.randint(0, 25)) if w.rng.random() < CRASH_RATE else Fuse()
    return Actor(action.__name__, fuse)


def _job(w: World, action: Action) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await action(w)

    return run


async def _alone(actor: Actor, job: Callable[[], Awaitable[None]]) -> BaseException | None:
    """One actor, no race: its fuse still counts its commands at the conductor's gate."""
    token = CURRENT.set(actor)
    try:
        await job()
    except (SimulatedCrash, *REFUSALS) as exc:
        return exc
    finally:
        CURRENT.reset(token)
    return None


async def _settle(w: World) -> None:
    """The end of a history: providers deliver what is pending, the chores run to the end."""
    w.say("--- settling: pending webhooks delivered, chores run")
    for payment in w.payments:
        if not payment.acknowledged and not payment.refused:
            await deliver(w, payment)
    await w.forget_locks()
    w.now += STALE * 2  # charges a crash left in flight may be resumed now
    for _ in range(2):
        await _deliver_card_events(w)
        await card_work(w)
        await chores(w)
    await _deliver_card_events(w)


async def _deliver_card_events(w: World) -> None:
    """The provider delivers what it holds (an event refused now is tried once more)."""
    for _ in range(2 * len(w.cards.pending)):
        if not w.cards.pending:
            return
        await deliver_card_event(w, 0)


async def _reopen_closed_with_money(w: World, accounts: dict[str, oracle.Snapshot]) -> None:
    """Money is never stranded: a closed account with a balance comes back with it."""
    for snap in accounts.values():
        if snap.account.get("status") == "closed" and (snap.prepaid or snap.voucher):
            registered = await register_account(w.cycle(snap.jid), snap.jid, w.now)
            after = await oracle.snapshot(w, snap.jid)
            if registered is not Registered.REOPENED or not after.active:
                oracle.fail(w, f"{snap.jid}: closed holding money and `register` cannot reopen it")
            await oracle.check(w)  # the books still add up, every payment still counted once

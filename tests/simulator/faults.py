"""Deterministic interleavings and crashes, injected at the Redis client.

Every Redis command (a command, a script call, a pipeline's execute) of the
code under test goes through ``SimRedis``. When several *actors* run at once
(``Conductor.run``), each command waits at a gate until the conductor lets it
through: one command at a time, the next one drawn from the history's seeded
random generator. So a seed fixes the interleaving of a top-up with a close
chore, of a plan change with a renewal, command by command, and a failure
replays exactly.

A *fuse* kills an actor before its k-th command: the code after that point
never runs, as if the process died there (``SimulatedCrash`` is a
BaseException: no ``except Exception`` of the code under test catches it).
"""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline


class SimulatedCrash(BaseException):
    """The process running this actor died here."""


@dataclass
class Fuse:
    """Crash an actor before its ``left``-th next command (None: never)."""

    left: int | None = None
    blown: bool = False

    def tick(self) -> None:
        if self.blown:
            raise SimulatedCrash
        if self.left is None:
            return
        if self.left <= 0:
            self.blown = True
            raise SimulatedCrash
        self.left -= 1


@dataclass
class Actor:
    name: str
    fuse: Fuse = field(default_factory=Fuse)
    commands: int = 0


CURRENT: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("actor", default=None)


def crash_point(_step: str) -> None:
    """A step of work outside Redis (the archive's files): the actor's fuse may blow here
    too, as if the process died between writing a file and renaming it."""
    actor = CURRENT.get()  # asyncio.to_thread copies the context: set in its thread too
    if actor is not None:
        actor.fuse.tick()


SETTLE_ROUNDS = 8  # loop iterations that let every runnable strand reach its next gate


class Conductor:
    """Lets one Redis command through at a time, chosen by a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.waiting: dict[int, tuple[Actor, asyncio.Future[None]]] = {}
        self.arrivals = 0
        self.in_flight = 0
        self.running = 0  # actors started by ``run`` and not finished

    async def gate(self) -> None:
        """Before a command: wait for our turn (alone: go at once), then maybe crash."""
        actor = CURRENT.get()
        if actor is None:
            return
        if self.running > 1:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.arrivals += 1
            self.waiting[self.arrivals] = (actor, future)
            await future
        actor.commands += 1
        self.in_flight += 1
        try:
            actor.fuse.tick()
        except SimulatedCrash:
            self.in_flight -= 1
            raise

    def done(self) -> None:
        if CURRENT.get() is not None:
            self.in_flight -= 1

    async def run(self, jobs: Sequence[tuple[Actor, Callable[[], Awaitable[Any]]]]) -> list[Any]:
        """Run the jobs as concurrent actors; each result, or the exception that ended it."""

        async def play(actor: Actor, job: Callable[[], Awaitable[Any]]) -> Any:
            CURRENT.set(actor)
            try:
                return await job()
            finally:
                self.running -= 1

        self.running = len(jobs)
        tasks = [asyncio.create_task(play(actor, job)) for actor, job in jobs]
        conducting = asyncio.create_task(self._conduct(tasks))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await conducting
        self.running = 0
        return list(results)

    async def _conduct(self, tasks: list[asyncio.Task[Any]]) -> None:
        while not all(task.done() for task in tasks):
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            if self.in_flight or not self.waiting:
                await asyncio.sleep(0)
                continue
            # Every strand is at a gate (or done): let one through, by the seed.
            arrival = self.rng.choice(sorted(self.waiting))
            _actor, future = self.waiting.pop(arrival)
            future.set_result(None)
        for _actor, future in self.waiting.values():  # pragma: no cover - nothing left waiting
            future.cancel()
        self.waiting.clear()


class SimRedis(Redis):
    """A redis-py client whose every command passes the conductor's gate first."""

    conductor: Conductor | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        conductor = self.conductor
        if conductor is None:
            return await super().execute_command(*args, **options)
        await conductor.gate()
        try:
            return await super().execute_command(*args, **options)
        finally:
            conductor.done()

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return SimPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint, self.conductor
        )


class SimPipeline(Pipeline):
    """A pipeline is one round trip: one gate for all its commands."""

    def __init__(self, *args: Any) -> None:
        *rest, conductor = args
        super().__init__(*rest)
        self._conductor: Conductor | None = conductor

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        conductor = self._conductor
        if conductor is None or not self.command_stack:
            return await super().execute(raise_on_error)
        await conductor.gate()
        try:
            return await super().execute(raise_on_error)
        finally:
            conductor.done()

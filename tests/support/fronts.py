"""Running the front (`accountbot front`) and its worker bots against a test stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from accountbot.stack import Child, Stack, free_port
from tests.support.bots import READY

FRONT_READY = "connected to the server as"


def live_workers(count: int) -> str:
    """What the front logs when its ``count``-th worker is in."""
    return f"connected ({count} live)"


def start_worker(stack: Stack, config: Path, front_port: int, number: int) -> Child:
    worker = stack.start_app(
        "bot",
        *("--front", str(front_port), "--worker", str(number), "--metrics-port", "0"),
        config=config,
        label=f"worker{number}",
    )
    worker.wait_for(READY)
    return worker


@contextmanager
def running_front(
    stack: Stack, config: Path, workers: int = 2
) -> Iterator[tuple[Child, list[Child], int]]:
    """The front on a free port and ``workers`` bots behind it: (front, workers, port)."""
    port = free_port()
    front = stack.start_app("front", "--listen-port", str(port), config=config)
    started = [front]
    try:
        front.wait_for(FRONT_READY)
        for number in range(workers):
            started.append(start_worker(stack, config, port, number))
            front.wait_for(live_workers(number + 1))
        yield front, started[1:], port
    finally:
        for child in reversed(started):
            child.stop()
            if child in stack.apps:
                stack.apps.remove(child)

"""Running the real bot process (`accountbot bot`) against the test stack."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from accountbot.stack import Child, Stack
from payments.stores import Store

READY = "connected as"


def wait_for_log(
    child: Child, text: str, *, after: int | None = None, timeout: float = 30.0
) -> None:
    child.wait_for(text, after=after, timeout=timeout)


def log_size(child: Child) -> int:
    return child.log_size()


@contextmanager
def running_bot(stack: Stack, config: Path) -> Iterator[Child]:
    child = stack.start_app("bot", config=config)
    try:
        wait_for_log(child, READY)
        yield child
    finally:
        child.stop()
        stack.apps.remove(child)


def bot_config(stack: Stack, tmp: Path, mode: str, **sections: dict[str, object]) -> Path:
    """A config for a bot in ``mode`` ("component" or "client") on this stack."""
    tables = dict(sections)
    if mode == "client":
        tables.update(stack.client_mode_sections(f"bot{int(time.monotonic() * 1000) % 10**8}"))
    return stack.write_config(
        operators=("admin@localhost",), path=tmp / f"bot-{mode}.toml", **tables
    )


def outbox_drained(store: Store) -> Callable[[], Awaitable[bool]]:
    """A probe: the bot has handed every queued notice to XMPP (it deletes each one sent)."""

    async def drained() -> bool:
        return await store.outbox.backlog() == 0

    return drained

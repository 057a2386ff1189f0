"""Drains the notifications outbox into XMPP messages, acknowledging after sending."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from bot.metrics import BotMetrics
from payments.clock import utcnow
from payments.notices import Notice, NoticeKind
from payments.stores import Store

log = logging.getLogger(__name__)

Send = Callable[[Notice], Awaitable[None]]


class OutboxConsumer:
    """One consumer of the ``bot`` group; its name is stable across restarts of a host,
    so that what it read and did not finish before a crash is sent first."""

    def __init__(
        self,
        store: Store,
        send: Send,
        connected: asyncio.Event,
        name: str = "",
        *,
        offer_days: int = 7,
        metrics: BotMetrics | None = None,
    ) -> None:
        self.store = store
        self.send = send
        self.connected = connected
        self.name = name or f"bot-{socket.gethostname()}"
        self.offer_days = offer_days  # [billing] invite_days: how long an invitation holds
        self.metrics = metrics or BotMetrics()
        self.sent = 0

    async def run(self) -> None:
        while True:
            await self.connected.wait()
            try:
                # Every round, so that a Redis that lost the group (restored
                # from an old dump, flushed by hand) gets it back.
                await self.store.outbox.ensure_group()
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox: will retry")
                await asyncio.sleep(1)

    async def _drain(self) -> None:
        outbox = self.store.outbox
        for batch in (await outbox.pending_mine(self.name), await outbox.claim_stale(self.name)):
            await self._deliver(batch)
        while self.connected.is_set():
            await self._deliver(await outbox.next_batch(self.name, block_ms=1000))

    async def _deliver(self, batch: list[Notice]) -> None:
        for note in batch:
            if not self.connected.is_set():
                return  # left pending: sent after the reconnection
            if note.to and note.body and not await self._said(note):
                await self.send(note)
                self.sent += 1
                self.metrics.outbox_lag.observe(lag_of(note))
                await self._remember(note)
            await self.store.outbox.done(note)

    async def _said(self, note: Notice) -> bool:
        """A reply already said it (``remove``): one message, not the same one twice."""
        return bool(note.key) and await self.store.botstate.was_told(note.to, note.key)

    async def _remember(self, note: Notice) -> None:
        """An invitation (key ``invitation:CODE``, keys.md) becomes a choice in the
        invitee's accept form; its first sentence says who offers what."""
        kind, _, code = note.key.partition(":")
        if note.kind != NoticeKind.INVITATION or kind != "invitation" or not code:
            return
        label = note.body.split(". ", 1)[0]
        await self.store.botstate.remember_offer(
            note.to, code, label, at=utcnow(), days=self.offer_days
        )


def lag_of(note: Notice) -> float:
    """Seconds since the notice was queued (its stream id starts with the XADD's ms)."""
    queued_ms = int(note.id.partition("-")[0] or 0)
    return max(0.0, time.time() - queued_ms / 1000) if queued_ms else 0.0

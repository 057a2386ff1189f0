"""What the bot writes in one turn of its event loop leaves in one write.

slixmpp writes each stanza with its own ``transport.write``: a system call
per reply, and a wake-up of the server for each. The replies to the chat
lines of one Redis pipeline are ready in the same turn, so they can go out
together: the writes of a turn are joined and written at the start of the
next one (a turn later, not a timer: no reply waits for more to come).
"""

from __future__ import annotations

import asyncio
from typing import Any


class CorkedWrites:
    """Replaces an XMPP stream's ``send_raw``, the one door its bytes go out by."""

    def __init__(self, xmpp: Any) -> None:
        self.xmpp = xmpp
        self.pending: list[bytes] = []

    def install(self) -> None:
        self.xmpp.send_raw = self.send_raw

    def send_raw(self, data: str | bytes) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append(data.encode() if isinstance(data, str) else data)

    def flush(self) -> None:
        data = b"".join(self.pending)
        self.pending.clear()
        if self.xmpp.transport is not None:  # gone: lost like any write to a closed stream
            self.xmpp.transport.write(data)

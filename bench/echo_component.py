"""The bot bench's baseline: a XEP-0114 component that answers each chat message with
its body, on the same slixmpp as the bot and nothing else (no Redis, no dispatch).

``python -m bench.echo_component JID SECRET HOST PORT``: runs until SIGTERM,
prints ``connected`` once its session started.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import slixmpp


def echo(msg: slixmpp.Message) -> None:
    if msg["type"] in ("chat", "normal") and msg["body"]:
        msg.reply(msg["body"]).send()


async def serve(jid: str, secret: str, host: str, port: int) -> None:
    component = slixmpp.ComponentXMPP(jid, secret, host, port)
    component.add_event_handler("message", echo)
    component.add_event_handler("session_start", lambda _: print("connected", flush=True))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    component.connect()
    await stop.wait()
    component.disconnect()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))

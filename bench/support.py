"""Helpers shared by the benches."""

from __future__ import annotations

import asyncio
import time

import aiohttp


async def wait_ready(base: str, http: aiohttp.ClientSession) -> None:
    """Wait until a web service under test answers ``/healthz`` with 200."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{base} did not start")


def config_text(redis_url: str, port: int, *, stripe_secret: str = "") -> str:
    """A minimal accountbot config on loopback (the benches' services and chores)."""
    stripe = (
        f'[providers.stripe]\nenabled = true\nwebhook_secret = "{stripe_secret}"\n'
        'api_key = "sk_bench"\napi_base = "http://127.0.0.1:9"\n'
        if stripe_secret
        else ""
    )
    return (
        f'[xmpp]\nsecret = "bench"\n[redis]\nurl = "{redis_url}"\n'
        f'[web]\nhost = "127.0.0.1"\nport = {port}\npublic_url = "http://127.0.0.1:{port}"\n'
        f'link_secret = "bench-link-secret"\n[gateway]\ntoken = "bench"\n{stripe}'
    )

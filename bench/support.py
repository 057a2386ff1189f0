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

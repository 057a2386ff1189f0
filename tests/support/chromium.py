"""Headless Chromium (Debian's ``chromium``) for the tests: screenshots and a DevTools session.

The DevTools protocol is spoken over aiohttp's websocket client: enough to
open a page with a phone's viewport, read what it rendered, click, and take
a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.waits import eventually

PHONE = (412, 915)  # a common Android phone's viewport, in CSS pixels
DESKTOP = (1280, 900)  # a laptop's browser window
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: run scripts/ensure-system-deps.sh")
    return path


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def screenshot(url: str, out: Path, profile: Path, size: tuple[int, int] = PHONE) -> None:
    """``chromium --headless --screenshot``: the page as a phone shows it, into ``out``."""
    proc = await asyncio.create_subprocess_exec(
        chromium_path(),
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        f"--window-size={size[0]},{size[1]}",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await _stop(proc)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium --screenshot failed ({proc.returncode}): {err[-2000:]!r}")


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class Page:
    """One tab over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self._ws.receive_str(), 30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def wait_event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            message: dict[str, Any] = json.loads(
                await asyncio.wait_for(self._ws.receive_str(), timeout)
            )
            if message.get("method") == method:
                return message
            self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def goto(self, url: str) -> None:
        self.events.clear()
        await self.call("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired")

    async def png(self) -> bytes:
        data = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(data["data"])

    async def full_png(self) -> bytes:
        """The whole page, not just the viewport (as tall as the document)."""
        height = int(await self.evaluate("document.documentElement.scrollHeight"))
        width = int(await self.evaluate("document.documentElement.clientWidth"))
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        data = await self.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )
        return base64.b64decode(data["data"])

    async def pdf(self) -> bytes:
        """The page printed (what "Print, save as PDF" makes)."""
        data = await self.call("Page.printToPDF", printBackground=False)
        return base64.b64decode(data["data"])

    async def media(self, kind: str) -> None:
        """Lay the page out for ``print`` or ``screen``."""
        await self.call("Emulation.setEmulatedMedia", media=kind)

    async def press_tab(self) -> None:
        for kind in ("rawKeyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Tab",
                code="Tab",
                windowsVirtualKeyCode=9,
            )


@contextlib.asynccontextmanager
async def browser_page(profile: Path, size: tuple[int, int] = PHONE) -> AsyncIterator[Page]:
    """A headless Chromium with one tab emulating a phone (or a desktop window, with
    ``DESKTOP``); stopped on exit."""
    proc = await asyncio.create_subprocess_exec(
        chromium_path(),
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        f"--window-size={size[0]},{size[1]}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port = await _devtools_port(profile, proc)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(url, max_msg_size=0) as ws:
                page = Page(ws)
                await page.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=size[0],
                    height=size[1],
                    deviceScaleFactor=1,
                    mobile=size[0] < DESKTOP[0],
                )
                await page.call("Page.enable")
                yield page
    finally:
        await _stop(proc)


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process) -> int:
    """Chromium writes the port it chose to ``DevToolsActivePort`` in the profile."""
    marker = profile / "DevToolsActivePort"

    async def port() -> int:
        if proc.returncode is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(marker.read_text().splitlines()[0])
        return 0

    return await eventually(port, "chromium opening its DevTools port", timeout=30)

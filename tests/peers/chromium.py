"""A real headless Chromium (Debian's ``chromium``) on a temporary profile, driven over the
DevTools protocol on loopback (aiohttp's WebSocket client: no driver to install).

One browser serves a test module; each test opens tabs (:meth:`Chromium.tab`), which load a
page, screenshot it, fill and submit its form and read what it shows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from tests.peers import processes

START_SECONDS = 60.0
LOAD_SECONDS = 30.0
# A desktop browser window's width; the height grows to the page's (see Tab.screenshot).
WIDTH, HEIGHT = 900, 700


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Tab:
    """One page of the browser, over its DevTools WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = 0
        self._events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Run one DevTools command; its result (events read meanwhile are kept)."""
        self._ids += 1
        await self._ws.send_json({"id": self._ids, "method": method, "params": params})
        while True:
            msg = await self._ws.receive_json(timeout=LOAD_SECONDS)
            if msg.get("id") == self._ids:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error'].get('message')}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self._events.append(msg)

    async def _loaded(self) -> None:
        """Wait for the page's load event (read or still to come)."""
        deadline = time.monotonic() + LOAD_SECONDS
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the page did not finish loading")
            self._events.append(await self._ws.receive_json(timeout=left))

    async def open(self, url: str, language: str = "en") -> int:
        """Load ``url`` as a browser set to ``language`` asks for it; the HTTP status."""
        await self.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": language})
        self._events.clear()
        await self.call("Page.navigate", url=url)
        await self._loaded()
        return self._status(url)

    def _status(self, url: str) -> int:
        for e in self._events:
            if e.get("method") == "Network.responseReceived":
                response = e["params"]["response"]
                if e["params"].get("type") == "Document":
                    return int(response["status"])
        raise AssertionError(f"no document response seen for {url}")

    async def submit(
        self, values: dict[str, str], ticks: tuple[str, ...] = (), button: str = "[type=submit]"
    ) -> int:
        """Type ``values`` into the page's fields by name, tick the boxes ``ticks`` (CSS
        selectors), press ``button`` and wait for the page it leads to; its HTTP status."""
        script = (
            "((values, ticks) => {"
            " for (const [name, value] of Object.entries(values)) {"
            " const field = document.querySelector(`[name='${name}']`);"
            " if (!field) throw new Error('no field ' + name);"
            " field.value = value; }"
            " for (const box of ticks) document.querySelector(box).checked = true;"
            f" }})({json.dumps(values)}, {json.dumps(list(ticks))})"
        )
        await self.evaluate(script)
        return await self.press(button)

    async def press(self, button: str) -> int:
        """Click the element ``button`` (a CSS selector) as a person would; the status of the
        page it leads to."""
        self._events.clear()
        await self.evaluate(f"document.querySelector({json.dumps(button)}).click()")
        await self._loaded()
        return self._status(button)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        found = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in found:
            raise AssertionError(f"{expression}: {found['exceptionDetails'].get('text')}")
        return found.get("result", {}).get("value")

    async def text(self) -> str:
        """What the page shows, as text."""
        return str(await self.evaluate("document.body.innerText"))

    async def screenshot(self, path: Path) -> None:
        """A PNG of the whole page (as tall as its content) at ``path``."""
        height = int(await self.evaluate("document.documentElement.scrollHeight"))
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=max(HEIGHT, height),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        await self.call("Emulation.clearDeviceMetricsOverride")


class Chromium:
    """``with Chromium() as browser: async with browser.tab() as tab: await tab.open(url)``."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(
            prefix="mailfleet-chromium-", ignore_cleanup_errors=True
        )
        profile = Path(self._dir.name) / "profile"
        self._log = (Path(self._dir.name) / "chromium.log").open("wb")
        self._proc = subprocess.Popen(
            [
                "chromium",
                "--headless",
                "--no-sandbox",  # tests run as root, where the sandbox refuses to start
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "about:blank",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its helper processes share its group, ended with it
        )
        self.port = self._wait_for_port(profile / "DevToolsActivePort")

    def _wait_for_port(self, announced: Path) -> int:
        """The DevTools port Chromium chose, once it writes it into the profile."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self._proc.returncode}")
            if announced.exists():
                first = announced.read_text().split("\n", 1)[0]
                if first.isdigit():
                    return int(first)
            time.sleep(0.1)
        self.close()
        raise AssertionError("chromium did not open its DevTools port")

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the browser and its helper processes, then remove its profile."""
        processes.stop(self._proc, grace=30)
        # Helpers (zygote, renderers, crash handler) may outlive the main process a moment and
        # still write into the profile: end the group it leads, and give the files a moment.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._log.close()
        for _ in range(20):
            try:
                shutil.rmtree(self._dir.name)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.25)
        self._dir.cleanup()

    @asynccontextmanager
    async def tab(self) -> AsyncIterator[Tab]:
        """A new tab, closed afterwards."""
        base = f"http://127.0.0.1:{self.port}"
        async with aiohttp.ClientSession() as session:
            async with session.put(f"{base}/json/new?about:blank") as reply:
                target = await reply.json()
            try:
                async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    tab = Tab(ws)
                    await tab.call("Page.enable")
                    await tab.call("Network.enable")
                    yield tab
            finally:
                async with session.get(f"{base}/json/close/{target['id']}"):
                    pass

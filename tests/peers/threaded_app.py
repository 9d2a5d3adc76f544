"""An aiohttp application served on its own event loop in a thread, so that a test (which
blocks) and a real agent (another process) can both call it."""

from __future__ import annotations

import asyncio
import ssl
import threading

from aiohttp import web


class ThreadedApp:
    """Serves one application on ``host:port`` from :meth:`start` until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(
        self, app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Serve ``app`` and return once it listens."""
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name=self._name)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self._name} did not start")

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

"""A small HTTPS server on a loopback address serving fixed files (an MTA-STS policy host)."""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path

from aiohttp import web

from tests.peers.smtp import free_port


class FileServer:
    """Serves ``files`` (path -> (content type, body)) over HTTPS with the given certificate."""

    def __init__(self, host: str, certificate: tuple[Path, Path]) -> None:
        self.host = host
        self.port = free_port(host)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []
        self._certificate = certificate
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.host}{request.path}")
        found = self.files.get(request.path)
        if found is None:
            return web.Response(status=404, text="not found")
        content_type, body = found
        return web.Response(body=body, content_type=content_type)

    def start(self) -> FileServer:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self._certificate)
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port, ssl_context=context)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="https-file-server")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("HTTPS server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

"""A small HTTPS server on a loopback address serving fixed files (an MTA-STS policy host)."""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from tests.peers.smtp import free_port
from tests.peers.threaded_app import ThreadedApp


class FileServer:
    """Serves ``files`` (path -> (content type, body)) over HTTPS with the given certificate."""

    def __init__(self, host: str, certificate: tuple[Path, Path]) -> None:
        self.host = host
        self.port = free_port(host)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []
        self._certificate = certificate
        self._server = ThreadedApp("https-file-server")

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
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._server.start(app, self.host, self.port, ssl_context=context)
        return self

    def stop(self) -> None:
        self._server.stop()

"""A webhook receiver on 127.0.0.1 that verifies each POST as a receiver would, with the stock
Standard Webhooks library, and fails while a test tells it to.

The server runs on its own event loop in a thread, so a real agent can post to it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from tests.peers.smtp import free_port
from tests.peers.threaded_app import ThreadedApp


@dataclass(frozen=True)
class Received:
    """One POST as the receiver got it, and what it answered."""

    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived
    status: int
    verified: bool  # the signature matched and the timestamp was within the replay window

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Answers 503 to the next ``fail_next`` POSTs (or all while ``failing``), else 204."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        self._tls = tls  # (certificate, key): serve HTTPS
        self.secret = ""  # set once the endpoint is created: the signing secret
        self.fail_next = 0
        self.failing = False
        self.redirect_to = ""  # answer 307 to this location instead
        self.retry_after = ""  # a Retry-After header on each 503
        # Cleared by hold(): requests are then recorded but not answered until release().
        self._released = threading.Event()
        self._released.set()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadedApp("webhook-receiver")

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}/hooks"

    def taken(self) -> list[Received]:
        """The POSTs it answered with success, in the order they came."""
        with self._lock:
            return [r for r in self.received if r.status < 300]

    def _verified(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
            return False
        return True

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            fail = self.failing or self.fail_next > 0
            if self.fail_next > 0:
                self.fail_next -= 1
            status = 307 if self.redirect_to else 503 if fail else 204
            self.received.append(
                Received(headers, body, time.monotonic(), status, self._verified(body, headers))
            )
        if not self._released.is_set():
            await asyncio.to_thread(self._released.wait)
        if self.redirect_to:
            return web.Response(status=status, headers={"location": self.redirect_to})
        wait = {"retry-after": self.retry_after} if fail and self.retry_after else {}
        return web.Response(status=status, text="busy, try later" if fail else None, headers=wait)

    def hold(self) -> None:
        """Take requests but answer none until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        """Answer the requests held, and the next ones at once."""
        self._released.set()

    def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        context = None
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self._tls)
        self._server.start(app, "127.0.0.1", self.port, ssl_context=context)
        return self

    def stop(self) -> None:
        self.release()
        self._server.stop()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The aiohttp application and its life cycle inside the coordinator.

Features (unsubscribe, tracking, webhooks, metrics) each contribute a ``Mount``: a function
that adds their routes to the application. Every request passes the per-client rate limit.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from mailfleet.agent.store.db import ping
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.space import DiskFull
from mailfleet.agent.validation import split_host_port
from mailfleet.agent.web.ratelimit import RateLimiter
from mailfleet.agent.web.settings import HttpSettings

log = logging.getLogger("mailfleet.agent.web")

Mount = Callable[[web.Application], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE_KEY = web.AppKey("store", Store)
SETTINGS_KEY = web.AppKey("settings", HttpSettings)


def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    """The address a request came from (the proxy's client when the proxy is trusted)."""
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",", 1)[0].strip()
        if first:
            return first
    return request.remote or "unknown"


def _rate_limit(settings: HttpSettings) -> Middleware:
    limiter = RateLimiter(settings.rate_limit_per_minute)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not limiter.allow(client_address(request, settings.trust_forwarded_for)):
            return web.Response(
                status=429,
                text="Too many requests; try again in a minute.\n",
                headers={"Retry-After": "60"},
            )
        return await handler(request)

    return middleware


@web.middleware
async def _disk_full(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request whose write the store refused for lack of space gets 503 and a retry hint
    (the store has logged the state once), not a 500 with a traceback per request."""
    try:
        return await handler(request)
    except DiskFull:
        return web.Response(
            status=503,
            text="The service is short of disk space; try again later.\n",
            headers={"Retry-After": "60"},
        )


async def _healthz(request: web.Request) -> web.Response:
    """200 while the store answers and can write; 503 otherwise (with the reason), so a load
    balancer stops sending."""
    store = request.app[STORE_KEY]
    if store.space.full:
        return web.json_response(
            {"status": "unavailable", "reason": store.space.describe()}, status=503
        )
    try:
        await store.read(ping)
    except sqlite3.Error as exc:
        log.warning("health check: store unavailable: %s", exc)
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "serving"})


def build_app(
    settings: HttpSettings, store: Store, mounts: Sequence[Mount] = ()
) -> web.Application:
    """The application with health, the rate limit and every feature's routes."""
    app = web.Application(middlewares=[_rate_limit(settings), _disk_full], client_max_size=1024**2)
    app[STORE_KEY] = store
    app[SETTINGS_KEY] = settings
    app.router.add_get("/healthz", _healthz)
    for mount in mounts:
        mount(app)
    return app


class WebServer:
    """Runs the application on ``settings.listen`` until stopped."""

    def __init__(self, settings: HttpSettings, store: Store, mounts: Sequence[Mount] = ()) -> None:
        self._settings = settings
        self._runner = web.AppRunner(
            build_app(settings, store, mounts),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=2.0,
        )

    async def start(self) -> None:
        """Bind the listener; raises OSError when the address is taken."""
        host, port = split_host_port(self._settings.listen)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info(
            "HTTP endpoints on %s (public URL %s)", self._settings.listen, self._settings.base_url
        )

    async def stop(self) -> None:
        """Stop accepting requests and close open connections."""
        await self._runner.cleanup()

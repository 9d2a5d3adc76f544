"""What every ESP route shares: one aiohttp session, retries, rate limits and reply mapping.

2xx is accepted (delivered, with the provider's message id). 429 defers the message and
pauses the route until the provider's ``Retry-After`` (or rate-limit reset). 5xx and broken
connections are tried again with backoff, then deferred as infrastructure failures (so a rule's
failover route may take them). 401/403 mean our key is wrong: deferred, never the recipient's
fault. Other 4xx are the provider refusing the message itself: failed, with its message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from mailfleet.agent.routes.base import Outcome, OutcomeKind
from mailfleet.agent.routes.settings import EspSettings
from mailfleet.agent.routes.shaping import Pacer

log = logging.getLogger("mailfleet.agent.routes")

# Without a usable Retry-After, a rate-limited route waits this long.
_DEFAULT_RETRY_AFTER = 60.0
# Longest pause a provider's header can impose on the route (a bogus date must not stop it).
_MAX_RETRY_AFTER = 3600.0
# How much of a provider's error text goes into an event.
_MAX_REASON = 500


@dataclass(frozen=True)
class HttpReply:
    """A provider's answer to one request."""

    status: int
    body: bytes
    headers: CIMultiDict[str]

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        """The body as one short line of text."""
        return " ".join(self.body.decode("utf-8", "replace").split())[:_MAX_REASON]


class Unreachable(Exception):
    """The provider did not answer usefully after every retry (connection error or 5xx)."""

    def __init__(self, reason: str, reply: HttpReply | None = None) -> None:
        super().__init__(reason)
        self.reply = reply


def retry_after(headers: Mapping[str, str], now: float) -> float:
    """Seconds to wait from a 429's headers: ``Retry-After`` (seconds or an HTTP date), else
    an ``X-RateLimit-Reset`` epoch time; a minute when neither is usable."""
    value = headers.get("Retry-After", "").strip()
    seconds: float | None = None
    if value.isdigit():
        seconds = float(value)
    elif value:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            seconds = None
    if seconds is None:
        reset = headers.get("X-RateLimit-Reset", "").strip()
        if reset.isdigit():
            seconds = float(reset) - now
    if seconds is None or seconds < 0:
        return _DEFAULT_RETRY_AFTER if seconds is None else 0.0
    return min(seconds, _MAX_RETRY_AFTER)


def json_bytes(value: Any) -> bytes:
    """Compact JSON for a request body."""
    return json.dumps(value, separators=(",", ":")).encode()


RequestBody = Callable[[], Any]  # a fresh body per try: aiohttp consumes form data


class HttpClient:
    """Sends one route's requests: bounded concurrency, pacing, retries, 429 pauses."""

    def __init__(self, name: str, settings: EspSettings, base_url: str) -> None:
        self.name = name
        self.base_url = settings.base_url or base_url
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None  # made on the worker's loop
        self._gate = asyncio.Semaphore(settings.connections)
        self._rate = Pacer(settings.per_minute)
        self._paused_until = 0.0

    @property
    def host(self) -> str:
        """The provider's host, reported in outcomes."""
        return URL(self.base_url).host or self.base_url

    def paused_for(self) -> float:
        """Seconds left of a 429 pause (0 when not paused)."""
        return max(0.0, self._paused_until - time.time())

    def pause(self, reply: HttpReply) -> float:
        """Pause the route after a 429; returns the pause in seconds."""
        wait = retry_after(reply.headers, time.time())
        self._paused_until = max(self._paused_until, time.time() + wait)
        log.warning("%s: rate limited by the provider for %.0f s", self.name, wait)
        return wait

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: RequestBody,
        headers: Mapping[str, str],
        sign: Callable[[str, str, Mapping[str, str], bytes], Mapping[str, str]] | None = None,
    ) -> HttpReply:
        """One request, tried again on 5xx and connection errors; raises :class:`Unreachable`.

        ``sign`` (for SigV4) gets the method, URL, headers and body bytes and returns the
        headers to send, freshly signed on every try.
        """
        url = self.base_url + path
        attempts = self._settings.retries + 1
        last = "no attempt made"
        reply: HttpReply | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._settings.retry_backoff_seconds * 2 ** (attempt - 1))
            data = body()
            send_headers: Mapping[str, str] = headers
            if sign is not None:
                send_headers = sign(method, url, headers, data)
            await self._rate.wait()
            try:
                async with self._gate:
                    reply = await self._send(method, url, data, send_headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.debug("%s: %s %s failed: %s", self.name, method, path, last)
                continue
            if reply.status < 500:
                return reply
            last = f"{reply.status} {reply.text()}"
        raise Unreachable(f"{self.host} did not answer after {attempts} tries: {last}", reply)

    async def _send(
        self, method: str, url: str, data: Any, headers: Mapping[str, str]
    ) -> HttpReply:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_seconds),
                connector=aiohttp.TCPConnector(limit=self._settings.connections),
            )
        async with self._session.request(method, url, data=data, headers=headers) as response:
            return HttpReply(response.status, await response.read(), CIMultiDict(response.headers))

    async def close(self) -> None:
        """Close the session's connections."""
        if self._session is not None:
            await self._session.close()


def accepted(message_id: int, reply: HttpReply, host: str, remote_id: str) -> Outcome:
    """The provider took the message."""
    return Outcome(
        message_id,
        OutcomeKind.DELIVERED,
        reply=f"{reply.status} accepted by {host}" + (f" as {remote_id}" if remote_id else ""),
        host=host,
        remote_id=remote_id,
    )


def refused(message_id: int, reply: HttpReply, host: str, reason: str) -> Outcome:
    """A 4xx other than 429: our key is wrong (defer) or the message is (fail)."""
    text = f"{reply.status} {reason or reply.text()}".strip()
    if reply.status in (401, 403):
        return Outcome(
            message_id,
            OutcomeKind.DEFERRED,
            reply=f"{text} (the provider refused the route's API key)",
            host=host,
            infrastructure=True,
        )
    return Outcome(message_id, OutcomeKind.FAILED, reply=text, host=host)


def rate_limited(message_id: int, host: str, wait: float) -> Outcome:
    """Deferred by a 429 (or a pause one caused): retried no sooner than the provider asked."""
    return Outcome(
        message_id,
        OutcomeKind.DEFERRED,
        reply=f"429 rate limited by {host}; retry after {wait:.0f} s",
        host=host,
        retry_after=wait,
    )


def unreachable(message_id: int, host: str, exc: Unreachable) -> Outcome:
    """The provider could not be reached or kept failing: nothing was accepted."""
    return Outcome(message_id, OutcomeKind.DEFERRED, reply=str(exc), host=host, infrastructure=True)

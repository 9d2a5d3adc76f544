"""One signed POST to an endpoint, through the address guard, with its result in words."""

from __future__ import annotations

import email.utils
import time
from types import TracebackType
from typing import NamedTuple

import aiohttp

from mailfleet.agent.eventhooks import signing
from mailfleet.agent.eventhooks.addresses import AddressPolicy, GuardedResolver, Refused
from mailfleet.agent.eventhooks.settings import WebhookSettings

_MAX_ERROR = 200


class Sender:
    """Posts webhook bodies; one HTTP client (and its connections) for all endpoints.

    Use as ``async with Sender(settings) as sender``. Connections go only to the addresses
    the guard resolved and allowed (no DNS cache, no proxy from the environment, no
    redirects), so what was checked is what is reached.
    """

    def __init__(self, settings: WebhookSettings) -> None:
        self._policy = AddressPolicy(settings)
        self._timeout = settings.timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self._policy), use_dns_cache=False, limit_per_host=2
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            trust_env=False,
            headers={"user-agent": "Mailfleet-Webhooks/1"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, secret: str, msg_id: str, body: bytes) -> str:
        """POST ``body`` signed with ``secret``; '' when the endpoint took it (any 2xx), else
        what went wrong, in one plain line."""
        return (await self.send(url, secret, msg_id, body)).error

    async def send(self, url: str, secret: str, msg_id: str, body: bytes) -> Sent:
        """POST ``body`` signed with ``secret``: how it went, and how long the endpoint asked
        the agent to wait (``Retry-After``) when it answered 429 or 503."""
        assert self._session is not None, "use Sender as an async context manager"
        try:
            host, _ = self._policy.check_url(url)
        except Refused as exc:
            return Sent(str(exc))
        try:
            headers = signing.headers(secret, msg_id, int(time.time()), body)
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as reply:
                if 200 <= reply.status < 300:
                    return Sent("")
                wait = _retry_after(reply.headers.get("retry-after", ""))
                problem = _status_problem(reply.status, await _snippet(reply))
                return Sent(problem, wait if reply.status in (429, 503) else None)
        except Refused as exc:
            return Sent(str(exc))
        except TimeoutError:
            return Sent(f"it did not answer within {self._timeout:g} seconds")
        except aiohttp.ClientConnectorCertificateError:
            return Sent(f"its TLS certificate is not valid for {host}")
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or "the connection failed"
            return Sent(f"cannot connect to {exc.host}:{exc.port}: {reason.lower()}")
        except aiohttp.ClientError:
            return Sent("the connection broke before it answered")


class Sent(NamedTuple):
    """How one POST went."""

    error: str  # '' when the endpoint took it, else what went wrong in one plain line
    retry_after: float | None = None  # seconds the endpoint asked the agent to wait


def _retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _snippet(reply: aiohttp.ClientResponse) -> str:
    try:
        text = (await reply.content.read(_MAX_ERROR)).decode("utf-8", "replace")
    except aiohttp.ClientError:
        return ""
    return " ".join(text.split())[:_MAX_ERROR]


def _status_problem(status: int, snippet: str) -> str:
    if 300 <= status < 400:
        return f"it answered with a redirect (HTTP {status}), which webhooks do not follow"
    said = f": {snippet}" if snippet else ""
    return f"it answered HTTP {status}{said}"

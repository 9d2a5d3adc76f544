"""One signed POST to an endpoint, through the address guard, with its result in words."""

from __future__ import annotations

import time
from types import TracebackType

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
        assert self._session is not None, "use Sender as an async context manager"
        try:
            host, _ = self._policy.check_url(url)
        except Refused as exc:
            return str(exc)
        try:
            headers = signing.headers(secret, msg_id, int(time.time()), body)
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as reply:
                if 200 <= reply.status < 300:
                    return ""
                return _status_problem(reply.status, await _snippet(reply))
        except Refused as exc:
            return str(exc)
        except TimeoutError:
            return f"it did not answer within {self._timeout:g} seconds"
        except aiohttp.ClientConnectorCertificateError:
            return f"its TLS certificate is not valid for {host}"
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or "the connection failed"
            return f"cannot connect to {exc.host}:{exc.port}: {reason.lower()}"
        except aiohttp.ClientError:
            return "the connection broke before it answered"


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

"""MTA-STS (RFC 8461): fetch, cache and apply a recipient domain's TLS policy.

A domain publishes ``_mta-sts.<domain> TXT "v=STSv1; id=..."`` and serves its policy at
``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (a verified certificate, no redirects).
Under ``mode: enforce`` mail goes only to MX hosts the policy names, over STARTTLS with a
certificate valid for the MX host name; ``testing`` only logs what would have failed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from mailfleet.agent.routes.smtp.mx import MxResolver

log = logging.getLogger("mailfleet.agent.routes")

Mode = Literal["enforce", "testing", "none"]

_MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 3.3: a policy is small; refuse anything bigger
_MAX_AGE = 31_557_600  # RFC 8461 3.2: at most a year
_FETCH_TIMEOUT = 30.0
_TXT_ID = re.compile(r"^v=STSv1;(.*;)?\s*id=([A-Za-z0-9]{1,32})\s*(;.*)?$")


class PolicyError(ValueError):
    """A policy file that does not parse (RFC 8461 3.2)."""


@dataclass(frozen=True)
class Policy:
    """One domain's policy."""

    mode: Mode
    mx: tuple[str, ...]
    max_age: int
    id: str = ""

    def allows(self, host: str) -> bool:
        """Whether ``host`` matches one of the policy's ``mx`` patterns (RFC 8461 4.1):
        ``*.example.com`` stands for exactly one left-most label."""
        host = host.lower().rstrip(".")
        for pattern in self.mx:
            if pattern.startswith("*."):
                first, _, rest = host.partition(".")
                if first and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False


def parse_policy(text: str, policy_id: str = "") -> Policy:
    """Parse a policy file; raises :class:`PolicyError`."""
    fields: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PolicyError(f"not a key: value line: {line[:80]!r}")
        fields.setdefault(key.strip().lower(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise PolicyError("version is not STSv1")
    mode = (fields.get("mode") or [""])[0]
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError(f"unknown mode {mode!r}")
    age = (fields.get("max_age") or [""])[0]
    if not age.isdigit():
        raise PolicyError("max_age is missing or not a number")
    mx = tuple(m.lower().rstrip(".") for m in fields.get("mx", []))
    if mode != "none" and not mx:
        raise PolicyError("no mx patterns")
    return Policy(mode, mx, min(int(age), _MAX_AGE), policy_id)  # type: ignore[arg-type]


def txt_id(records: Sequence[str]) -> str | None:
    """The policy id of the one ``v=STSv1`` TXT record, or None (none, several, malformed)."""
    found = [r for r in records if r.startswith("v=STSv1")]
    if len(found) != 1:
        return None
    match = _TXT_ID.match(found[0])
    return match.group(2) if match else None


class _DnsResolver(AbstractResolver):
    """Lets aiohttp find ``mta-sts.<domain>`` through the route's own DNS servers."""

    def __init__(self, resolver: MxResolver) -> None:
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolver.addresses(host)
        if not addresses:
            raise OSError(f"{host} has no address")
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for a in addresses
        ]

    async def close(self) -> None:
        return None


@dataclass
class _Cached:
    policy: Policy
    expires: float


class MtaSts:
    """Policies of recipient domains, cached for their ``max_age`` (per worker process)."""

    def __init__(self, resolver: MxResolver, *, port: int = 443, ca_file: str = "") -> None:
        self._resolver = resolver
        self._port = port
        self._context = ssl.create_default_context()
        if ca_file:
            self._context.load_verify_locations(ca_file)
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None

    async def policy(self, domain: str) -> Policy | None:
        """The domain's policy in force, or None when it has none (or it cannot be had)."""
        # Connections opening at once for one domain share one lookup and one fetch.
        lock = self._locks.setdefault(domain, asyncio.Lock())
        try:
            async with lock:
                return await self._policy(domain)
        finally:
            if not lock.locked():
                self._locks.pop(domain, None)

    async def _policy(self, domain: str) -> Policy | None:
        now = time.time()
        cached = self._cache.get(domain)
        try:
            records = await self._resolver.txt(f"_mta-sts.{domain}")
        except OSError:
            records = None  # DNS failed: a cached policy still holds (RFC 8461 5.1)
        if records is None:
            return cached.policy if cached and cached.expires > now else None
        current = txt_id(records)
        if current is None:
            # No (valid) record: a cached policy holds until it expires (RFC 8461 3.1).
            return cached.policy if cached and cached.expires > now else None
        if cached and cached.expires > now and cached.policy.id == current:
            return cached.policy
        try:
            policy = parse_policy(await self._fetch(domain), current)
        except (PolicyError, aiohttp.ClientError, TimeoutError, OSError, UnicodeError) as exc:
            log.info("MTA-STS policy of %s unavailable: %s", domain, exc)
            return cached.policy if cached and cached.expires > now else None
        self._cache[domain] = _Cached(policy, now + policy.max_age)
        return policy

    async def _fetch(self, domain: str) -> str:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=_FETCH_TIMEOUT),
                connector=aiohttp.TCPConnector(
                    resolver=_DnsResolver(self._resolver), ssl=self._context
                ),
            )
        host = f"mta-sts.{domain}"
        port = "" if self._port == 443 else f":{self._port}"
        url = f"https://{host}{port}/.well-known/mta-sts.txt"
        async with self._session.get(url, allow_redirects=False) as response:
            if response.status != 200:
                raise PolicyError(f"{url} answered {response.status}")
            if response.content_type != "text/plain":
                raise PolicyError(f"{url} is {response.content_type}, not text/plain")
            body = await response.content.read(_MAX_POLICY_BYTES + 1)
            if len(body) > _MAX_POLICY_BYTES:
                raise PolicyError(f"{url} is larger than {_MAX_POLICY_BYTES} bytes")
            return body.decode("utf-8")

    async def close(self) -> None:
        """Close the HTTPS session."""
        if self._session is not None:
            await self._session.close()

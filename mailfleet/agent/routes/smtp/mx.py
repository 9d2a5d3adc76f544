"""MX resolution for direct delivery (RFC 5321 section 5, RFC 7505 null MX), cached per TTL."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailfleet.agent.routes.base import OutcomeKind
from mailfleet.agent.validation import split_host_port

# Enough answers for the domains one worker sends to; older entries are evicted first.
_CACHE_ENTRIES = 50_000


@dataclass(frozen=True)
class MxHost:
    """One host to try, in order."""

    name: str
    preference: int


class DestinationError(Exception):
    """DNS settled the domain's fate before any connection: bounce or defer every message."""

    def __init__(self, kind: OutcomeKind, reply: str, enhanced: str) -> None:
        super().__init__(reply)
        self.kind = kind
        self.reply = reply
        self.enhanced = enhanced


def _bounce(reply: str, enhanced: str) -> DestinationError:
    return DestinationError(OutcomeKind.BOUNCED, reply, enhanced)


def _defer(reply: str) -> DestinationError:
    return DestinationError(OutcomeKind.DEFERRED, reply, "4.4.3")


def order_mx(records: list[tuple[int, str]]) -> list[MxHost]:
    """Sort by preference; equal preferences in random order to spread load (RFC 5321 5.1)."""
    shuffled = sorted(records, key=lambda r: (r[0], random.random()))
    return [MxHost(name, pref) for pref, name in shuffled]


def nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    """A resolver address from settings: ``HOST`` (port 53) or ``HOST:PORT``."""
    if entry.count(":") == 1 or entry.startswith("["):
        host, port = split_host_port(entry)
        return dns.nameserver.Do53Nameserver(host, port)
    return dns.nameserver.Do53Nameserver(entry.strip("[]"), 53)


class MxResolver:
    """Finds the hosts to try for a domain and their addresses (dnspython's asyncio resolver).

    Answers, negative ones included, are cached for their TTL by dnspython's cache, and
    concurrent asks for the same name and type share one query.
    """

    def __init__(self, nameservers: list[str], timeout: float = 10.0) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = [nameserver(n) for n in nameservers]
        self._resolver.lifetime = timeout
        self._resolver.cache = dns.resolver.LRUCache(_CACHE_ENTRIES)
        self._pending: dict[tuple[str, str], asyncio.Future[dns.resolver.Answer]] = {}
        # Answers by the name as asked, in front of dnspython's cache: a hit there parses the
        # name and runs a task, which cost more than the rest of a delivery's routing.
        self._answers: dict[tuple[str, str], dns.resolver.Answer] = {}

    async def _resolve(self, name: str, rdtype: str) -> dns.resolver.Answer:
        """dnspython's answer for ``name``/``rdtype``, raising as it does.

        A campaign's first messages to a domain open several connections at once; without
        sharing, each would send its own queries before the first answer reached the cache.
        """
        key = (name, rdtype)
        answer = self._answers.get(key)
        if answer is not None:
            if answer.expiration > time.time():
                return answer
            del self._answers[key]
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._resolver.resolve(name, rdtype))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: one asker giving up (a cancelled delivery) must not cancel the others'.
        return await asyncio.shield(pending)

    def _settled(self, key: tuple[str, str], done: asyncio.Future[dns.resolver.Answer]) -> None:
        del self._pending[key]
        if done.cancelled() or done.exception() is not None:  # retrieved, in case every
            return  # asker was cancelled; failures and negative answers: dnspython's cache
        if len(self._answers) >= _CACHE_ENTRIES:
            del self._answers[next(iter(self._answers))]  # the oldest
        self._answers[key] = done.result()

    async def hosts(self, domain: str) -> list[MxHost]:
        """The hosts to try for ``domain``, best first.

        Raises :class:`DestinationError` for a null MX or a domain that does not exist
        (bounce) and for DNS failures (defer).
        """
        try:
            answer = await self._resolve(domain, "MX")
        except dns.exception.SyntaxError as exc:
            # Not a domain name at all (an empty or over-long label): no retry can help.
            reason = f"invalid domain {domain!r}: {exc}"
            raise DestinationError(OutcomeKind.FAILED, reason, "") from None
        except dns.resolver.NXDOMAIN:
            raise _bounce(f"550 5.1.2 domain {domain} does not exist", "5.1.2") from None
        except dns.resolver.NoAnswer:
            # No MX: the domain itself is the implicit MX if it has an address (RFC 5321 5.1).
            try:
                has_address = bool(await self._addresses(domain))
            except dns.exception.DNSException as exc:
                raise _defer(f"451 4.4.3 DNS lookup of {domain} failed: {exc}") from None
            if not has_address:
                raise _bounce(
                    f"550 5.1.2 domain {domain} has no MX and no address", "5.1.2"
                ) from None
            return [MxHost(domain, 0)]
        except dns.exception.DNSException as exc:
            raise _defer(f"451 4.4.3 DNS lookup of MX for {domain} failed: {exc}") from None
        records = [(int(r.preference), r.exchange) for r in answer]
        if len(records) == 1 and records[0][1] == dns.name.root:
            raise _bounce(f"556 5.1.10 domain {domain} accepts no mail (null MX)", "5.1.10")
        return order_mx(
            [
                (pref, name.to_text(omit_final_dot=True))
                for pref, name in records
                if name != dns.name.root
            ]
        )

    async def txt(self, name: str) -> list[str]:
        """The TXT strings of ``name`` (each record's strings joined); [] when it has none.

        Raises OSError when DNS fails, so callers can tell "no record" from "no answer".
        """
        try:
            answer = await self._resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise OSError(f"TXT lookup of {name} failed: {exc}") from None
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]

    async def addresses(self, name: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``name``; empty when it has none or DNS fails."""
        try:
            return await self._addresses(name)
        except dns.exception.DNSException:
            # An MX host we cannot look up is skipped like one that does not answer.
            return []

    async def _addresses(self, name: str) -> list[str]:
        """IPv4 then IPv6 addresses; raises for DNS failures other than "no such record"."""
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolve(name, rdtype)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            found.extend(r.address for r in answer)
        return found

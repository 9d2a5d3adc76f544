"""SendingDomains: a tenant's domains as receivers judge them: DKIM keys made on the agent, the
records to publish, and what DNS publishes now."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import dns.resolver
import grpc

from mailfleet.agent.api import auth
from mailfleet.agent.api.dkim_state import DkimState
from mailfleet.agent.dkim import dns_checks
from mailfleet.agent.dkim.keys import (
    ALGORITHMS,
    Algorithm,
    DkimKeyError,
    DnsRecord,
    check_selector,
    generate_key,
    normalise_domain,
)
from mailfleet.agent.errors import AlreadyExists, InvalidArgument, NotFound
from mailfleet.agent.store import smtp_accounts
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import sending_domains_pb2, sending_domains_pb2_grpc

# Lookups of one check: a resolver that does not answer fails the check, not the call.
_DNS_TIMEOUT = 10.0
_STATUS = {
    dns_checks.Status.OK: sending_domains_pb2.DNS_VERDICT_STATUS_OK,
    dns_checks.Status.WARN: sending_domains_pb2.DNS_VERDICT_STATUS_WARN,
    dns_checks.Status.MISSING: sending_domains_pb2.DNS_VERDICT_STATUS_MISSING,
    dns_checks.Status.WRONG: sending_domains_pb2.DNS_VERDICT_STATUS_WRONG,
}


class SendingDomainsService(sending_domains_pb2_grpc.SendingDomainsServicer):
    """Makes DKIM keys (the private key stays in ``dkim.dkim_dir``), lists the records to
    publish and checks them in DNS, for the sending domains of one tenant; admin keys only.

    ``keys_changed`` is awaited after a key was made, so the workers sign with it (the
    coordinator replaces them); ``addresses`` and ``helo`` are what this agent sends from
    itself (direct MX), for SPF and PTR; ``resolver`` asks the agent's DNS resolvers.
    """

    def __init__(
        self,
        store: Store,
        dkim: DkimState,
        *,
        addresses: Sequence[str],
        helo: str,
        resolver: Callable[[], dns.resolver.Resolver],
        keys_changed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._dkim = dkim
        self._addresses = list(addresses)
        self._helo = helo
        self._resolver = resolver
        self._keys_changed = keys_changed

    async def _domain(self, tenant_id: int, domain: str) -> str:
        """The tenant's sending domain ``domain``, normalised; the caller must be an admin."""
        who = auth.require_admin()
        tenant = tenant_id or who.tenant_id
        if not domain:
            raise InvalidArgument("domain", "required")
        try:
            norm = normalise_domain(domain)
        except DkimKeyError:
            raise InvalidArgument("domain", f"{domain!r} is not a domain name") from None
        found = await self._store.read(lambda c: smtp_accounts.domains(c, tenant))
        if norm not in found:
            raise NotFound(f"{norm} is not a sending domain of this tenant; add it first")
        return norm

    def _plan(self, domain: str) -> dns_checks.Plan:
        return dns_checks.make_plan(domain, self._dkim.keys, self._addresses, self._helo)

    async def GenerateDkimKey(
        self,
        request: sending_domains_pb2.GenerateDkimKeyRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> sending_domains_pb2.GenerateDkimKeyResponse:
        domain = await self._domain(request.tenant_id, request.domain)
        algorithm = _algorithm(request.algorithm)
        selector = request.selector or datetime.datetime.now(datetime.UTC).strftime("mf%Y%m")
        dkim_dir = self._dkim.dkim_dir
        if dkim_dir is None:
            raise InvalidArgument("domain", "this agent keeps no DKIM keys")
        record = await asyncio.to_thread(_generate, dkim_dir, domain, selector, algorithm)
        self._dkim.reload()
        if self._keys_changed is not None:
            await self._keys_changed()
        return sending_domains_pb2.GenerateDkimKeyResponse(
            status=self._dkim.status(domain),
            record=sending_domains_pb2.DnsRecord(
                purpose="DKIM", name=record.name, type="TXT", value=record.value
            ),
        )

    async def GetDnsRecords(
        self,
        request: sending_domains_pb2.DomainRef,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> sending_domains_pb2.DnsRecords:
        domain = await self._domain(request.tenant_id, request.domain)
        records = [
            sending_domains_pb2.DnsRecord(
                purpose=p.purpose, name=p.name, type="TXT", value=p.value, note=p.note
            )
            for p in dns_checks.to_publish(self._plan(domain))
        ]
        return sending_domains_pb2.DnsRecords(records=records)

    async def CheckDns(
        self,
        request: sending_domains_pb2.DomainRef,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> sending_domains_pb2.DnsCheck:
        domain = await self._domain(request.tenant_id, request.domain)
        lookup = dns_checks.Lookup(self._resolver())
        # dnspython's blocking resolver, off the event loop: a slow DNS server must not stall
        # the other calls.
        findings = await asyncio.to_thread(
            dns_checks.run, lookup, self._plan(domain), "generate a DKIM key for it"
        )
        return sending_domains_pb2.DnsCheck(
            domain=domain,
            verdicts=[
                sending_domains_pb2.DnsVerdict(
                    check=f.check,
                    status=_STATUS[f.status],
                    detail=f.detail,
                    publish="" if f.status is dns_checks.Status.OK else f.publish,
                )
                for f in findings
            ],
        )


def _algorithm(name: str) -> Algorithm:
    """The requested algorithm ("rsa" when empty)."""
    for algorithm in ALGORITHMS:
        if (name or "rsa") == algorithm:
            return algorithm
    raise InvalidArgument("algorithm", f"{name!r} is not rsa or ed25519")


def _generate(dkim_dir: Path, domain: str, selector: str, algorithm: Algorithm) -> DnsRecord:
    """The new key's record; an invalid or taken selector is the caller's error."""
    try:
        check_selector(selector)
    except DkimKeyError:
        raise InvalidArgument("selector", f"{selector!r} is not a DNS label") from None
    try:
        return generate_key(dkim_dir, domain, selector, algorithm)
    except DkimKeyError:  # the domain and selector are valid: the selector has a key
        raise AlreadyExists(
            f"the selector {selector} of {domain} has a key already; pick another"
        ) from None

"""Which addresses an endpoint may be reached at (SSRF defence), checked on the URL when an
endpoint is saved and again on every address DNS gives at each connection.

The resolver below is what the HTTP client connects through, so the address checked is the
address connected to: a name that resolves to a public address when it is saved and to
127.0.0.1 later (DNS rebinding) is refused at the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from mailfleet.agent.eventhooks.settings import WebhookSettings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Addresses an endpoint never gets unless an operator allows their network by name; the
# cloud metadata services first, since they are the usual target.
_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", "a cloud metadata address"),
    ("fd00:ec2::254/128", "a cloud metadata address"),
    ("0.0.0.0/8", "a local address"),
    ("127.0.0.0/8", "a loopback address"),
    ("::1/128", "a loopback address"),
    ("::/128", "a local address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("fc00::/7", "a private address"),
    ("100.64.0.0/10", "a shared (CGNAT) address"),
    ("169.254.0.0/16", "a link-local address"),
    ("fe80::/10", "a link-local address"),
    ("224.0.0.0/4", "a multicast address"),
    ("ff00::/8", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("192.0.0.0/24", "a reserved address"),
    ("198.18.0.0/15", "a reserved address"),
)
_FORBIDDEN_NETS = tuple((ipaddress.ip_network(net), why) for net, why in _FORBIDDEN)


class Refused(Exception):
    """An endpoint URL or address the agent will not send to; the message says why, in words."""


def _plain(address: IpAddress) -> IpAddress:
    """An IPv4 address written as IPv6 (::ffff:127.0.0.1) is checked as the IPv4 it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AddressPolicy:
    """The forbidden networks less the ones ``[webhooks] allow_networks`` names."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.allow_http = settings.allow_http
        self._allowed: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.allow_networks
        )

    def why_forbidden(self, address: IpAddress) -> str:
        """'' when the agent may connect to ``address``, else what kind of address it is."""
        address = _plain(address)
        if any(address in net for net in self._allowed):
            return ""
        for net, why in _FORBIDDEN_NETS:
            if address.version == net.version and address in net:
                return why
        return ""

    def check_url(self, url: str) -> tuple[str, int]:
        """The host and port of an acceptable endpoint URL; raises :class:`Refused`."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise Refused("the URL is not valid") from None
        if parts.scheme == "http" and not self.allow_http:
            raise Refused("the URL must start with https:// (http is not allowed on this agent)")
        if parts.scheme not in ("https", "http"):
            raise Refused("the URL must start with https://")
        if not parts.hostname:
            raise Refused("the URL has no host name")
        if parts.username or parts.password:
            raise Refused("the URL must not carry a user name or password")
        try:
            literal: IpAddress | None = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if literal is not None and (why := self.why_forbidden(literal)):
            raise Refused(f"{parts.hostname} is {why}, which webhooks may not reach")
        return parts.hostname, port or (443 if parts.scheme == "https" else 80)

    async def check_resolves(self, host: str, port: int) -> None:
        """Refuse a host name every address of which is forbidden (the check made when an
        endpoint is saved; connections are checked again, address by address)."""
        await GuardedResolver(self).resolve(host, port)


class GuardedResolver(AbstractResolver):
    """Resolves with the system's resolver and keeps only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The allowed addresses of ``host``; raises :class:`Refused` when none is."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, family=socket.AF_UNSPEC
            )
        except socket.gaierror:
            raise Refused(f"the host name {host} cannot be resolved") from None
        results: list[ResolveResult] = []
        refusals: list[str] = []
        for fam, _, proto, _, sockaddr in infos:
            ip = str(sockaddr[0])
            why = self._policy.why_forbidden(ipaddress.ip_address(ip.split("%", 1)[0]))
            if why:
                refusals.append(f"{host} resolves to {ip}, {why}, which webhooks may not reach")
                continue
            results.append(_result(host, ip, int(sockaddr[1]), fam, proto))
        if not results:
            raise Refused(refusals[0] if refusals else f"the host name {host} has no address")
        return results

    async def close(self) -> None:
        """Nothing to release: the system resolver keeps no state here."""


def _result(host: str, ip: str, port: int, family: int, proto: int) -> ResolveResult:
    return {
        "hostname": host,
        "host": ip,
        "port": port,
        "family": family,
        "proto": proto,
        "flags": socket.AI_NUMERICHOST,
    }

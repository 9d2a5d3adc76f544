"""What receivers see of this agent when it sends itself (direct MX): its source addresses
and HELO name, which a sending domain's SPF and the addresses' PTR records must match; and
the blocking resolver the DNS checks ask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dns.resolver

from mailfleet.agent.routes.settings import DirectMxRoute, RouteSettings
from mailfleet.agent.routes.smtp.mx import nameserver


def sending_identity(routes: Mapping[str, RouteSettings], hostname: str) -> tuple[list[str], str]:
    """(the direct-MX routes' source addresses, sorted; the HELO name: ``hostname`` or the
    first route's ``helo``, "" when neither is set)."""
    direct = [r for r in routes.values() if isinstance(r, DirectMxRoute)]
    addresses = sorted({r.source_address for r in direct if r.source_address})
    return addresses, hostname or next((r.helo for r in direct if r.helo), "")


def blocking_resolver(nameservers: Sequence[str], timeout: float = 10.0) -> dns.resolver.Resolver:
    """The system's resolver, or one asking ``nameservers`` (``HOST`` or ``HOST:PORT``)."""
    r = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        r.nameservers = [nameserver(n) for n in nameservers]
    r.lifetime = timeout
    return r

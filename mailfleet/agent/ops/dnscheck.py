"""``mailfleet-agent dns-check DOMAIN``: this agent's plan of checks for a sending domain.

The checks themselves are in :mod:`mailfleet.agent.dkim.dns_checks`, which the SendingDomains API
runs too.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.dkim.dns_checks import Plan, make_plan
from mailfleet.agent.dkim.keys import load_keys, normalise_domain
from mailfleet.agent.routes.smtp.identity import sending_identity


def plan_for(settings: AgentSettings, domain: str, addresses: Sequence[str]) -> Plan:
    """What to check for ``domain`` on this agent: its DKIM keys for the domain, the given
    sending addresses or else the direct-MX routes' source addresses, and its HELO name."""
    found, helo = sending_identity(settings.routes, settings.delivery.hostname)
    return make_plan(
        normalise_domain(domain),
        load_keys(settings.dkim_dir),
        list(addresses) or found,
        helo or socket.getfqdn(),
    )

"""Routing rules: which route a message takes (pure; MX host names come in as arguments).

Rules are tried in order; the first whose every condition holds picks the route. A message no
rule matches takes the default route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from agent.routes.config import RoutingRule


@dataclass(frozen=True)
class MessageFacts:
    """What rules can look at, known before any connection is made."""

    tenant: str
    sender_domain: str
    recipient_domain: str
    tags: tuple[str, ...]
    transactional: bool


@dataclass(frozen=True)
class Plan:
    """Where one message goes: the route, and the failover route with its threshold."""

    rule: str  # the matching rule's name, or "default"
    route: str
    failover: str = ""
    failover_after_seconds: float = 0.0


@dataclass(frozen=True)
class RoutingTable:
    """The rules in force and the route for what none of them matches; versioned so workers
    know when theirs is stale."""

    rules: tuple[RoutingRule, ...]
    default_route: str
    version: int = 0

    @property
    def needs_mx(self) -> bool:
        """Whether some rule matches on MX hosts (so the caller must look them up)."""
        return any(rule.recipient_mx for rule in self.rules)


def domain_matches(domain: str, patterns: Sequence[str]) -> bool:
    """Whether ``domain`` matches one of ``patterns``: exact, or with '*' wildcards.

    ``*.example.com`` matches every subdomain of example.com but not example.com itself.
    """
    domain = domain.lower().rstrip(".")
    return any(fnmatchcase(domain, pattern) for pattern in patterns)


def rule_name(rule: RoutingRule, index: int) -> str:
    """The rule's name, or its 1-based position when it has none."""
    return rule.name or f"rule {index + 1}"


def _matches(rule: RoutingRule, facts: MessageFacts, mx_hosts: Sequence[str]) -> bool:
    if rule.tenants and facts.tenant not in rule.tenants:
        return False
    if rule.lane != "any" and (rule.lane == "transactional") != facts.transactional:
        return False
    if rule.tags and not set(rule.tags) & set(facts.tags):
        return False
    if rule.sender_domains and not domain_matches(facts.sender_domain, rule.sender_domains):
        return False
    if rule.recipient_domains and not domain_matches(
        facts.recipient_domain, rule.recipient_domains
    ):
        return False
    return not rule.recipient_mx or any(domain_matches(h, rule.recipient_mx) for h in mx_hosts)


def choose(table: RoutingTable, facts: MessageFacts, mx_hosts: Sequence[str] = ()) -> Plan:
    """The plan of the first rule that matches ``facts`` (``mx_hosts``: the recipient domain's
    MX host names, needed only when :attr:`RoutingTable.needs_mx`)."""
    for index, rule in enumerate(table.rules):
        if _matches(rule, facts, mx_hosts):
            return Plan(
                rule_name(rule, index), rule.route, rule.failover, rule.failover_after_seconds
            )
    return Plan("default", table.default_route)


def referenced_routes(table: RoutingTable) -> set[str]:
    """Every route name the table uses."""
    names = {table.default_route}
    for rule in table.rules:
        names.add(rule.route)
        if rule.failover:
            names.add(rule.failover)
    return names

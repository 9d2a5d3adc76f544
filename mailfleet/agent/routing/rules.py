"""Routing rules: which route a message takes (pure; MX host names come in as arguments).

Rules are tried in order; the first whose every condition holds picks the route. A message no
rule matches takes the default route.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from mailfleet.agent.routing.settings import RoutingRule


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

    @cached_property
    def compiled(self) -> tuple[_Compiled, ...]:
        """The rules prepared for matching (made once per table)."""
        return tuple(_Compiled.of(rule, i) for i, rule in enumerate(self.rules))

    @property
    def needs_mx(self) -> bool:
        """Whether some rule matches on MX hosts (so the caller must look them up)."""
        return any(rule.recipient_mx for rule in self.rules)


def rule_name(rule: RoutingRule, index: int) -> str:
    """The rule's name, or its 1-based position when it has none."""
    return rule.name or f"rule {index + 1}"


def _pattern(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """One regular expression for a list of domain patterns (None: no condition)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


@dataclass(frozen=True)
class _Compiled:
    """A rule prepared for matching many messages: sets and one regex per condition."""

    rule: RoutingRule
    plan: Plan
    tenants: frozenset[str]
    tags: frozenset[str]
    lane: bool | None  # True: transactional only, False: bulk only
    sender: re.Pattern[str] | None
    recipient: re.Pattern[str] | None
    mx: re.Pattern[str] | None

    @classmethod
    def of(cls, rule: RoutingRule, index: int) -> _Compiled:
        plan = Plan(rule_name(rule, index), rule.route, rule.failover, rule.failover_after_seconds)
        lane = None if rule.lane == "any" else rule.lane == "transactional"
        return cls(
            rule,
            plan,
            frozenset(rule.tenants),
            frozenset(rule.tags),
            lane,
            _pattern(rule.sender_domains),
            _pattern(rule.recipient_domains),
            _pattern(rule.recipient_mx),
        )

    def matches(self, facts: MessageFacts, mx_hosts: Sequence[str]) -> bool:
        if self.tenants and facts.tenant not in self.tenants:
            return False
        if self.lane is not None and self.lane != facts.transactional:
            return False
        if self.tags and self.tags.isdisjoint(facts.tags):
            return False
        if self.sender and not self.sender.match(facts.sender_domain):
            return False
        if self.recipient and not self.recipient.match(facts.recipient_domain):
            return False
        return self.mx is None or any(self.mx.match(h.lower().rstrip(".")) for h in mx_hosts)


def choose(table: RoutingTable, facts: MessageFacts, mx_hosts: Sequence[str] = ()) -> Plan:
    """The plan of the first rule that matches ``facts`` (``mx_hosts``: the recipient domain's
    MX host names, needed only when :attr:`RoutingTable.needs_mx`). Domains in ``facts`` are
    lower-case."""
    for compiled in table.compiled:
        if compiled.matches(facts, mx_hosts):
            return compiled.plan
    return Plan("default", table.default_route)


def referenced_routes(table: RoutingTable) -> set[str]:
    """Every route name the table uses."""
    names = {table.default_route}
    for rule in table.rules:
        names.add(rule.route)
        if rule.failover:
            names.add(rule.failover)
    return names

"""The ``[routing]`` settings: the ordered rules that pick each message's route; and the
settings routing reads from the rest of the agent's (:class:`RoutingInputs`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field, field_validator, model_validator

from mailfleet.agent.routes.settings import (
    ROUTE_NAME,
    IpPoolsSettings,
    LimitsSettings,
    RouteSettings,
    SharedSettings,
    domain_patterns,
)


class RoutingRule(BaseModel):
    """One rule: every condition given must hold (a list matches if any entry does)."""

    model_config = {"extra": "forbid"}

    # Shown in logs and events; defaults to the rule's position.
    name: str = ""
    tenants: list[str] = []
    # Patterns with '*' wildcards: "example.com", "*.example.com", "*".
    sender_domains: list[str] = []
    recipient_domains: list[str] = []
    # MX rollup: matches when any MX host of the recipient domain matches, e.g.
    # ["*.google.com", "*.googlemail.com"] for every Google-hosted domain.
    recipient_mx: list[str] = []
    # Campaign or transactional message tags; any one of them matches.
    tags: list[str] = []
    lane: Literal["any", "transactional", "bulk"] = "any"
    route: str
    # Used instead of ``route`` once it has failed with connection or infrastructure errors
    # (never a recipient's refusal) for ``failover_after_seconds``.
    failover: str = ""
    failover_after_seconds: float = Field(300.0, ge=0)

    @field_validator("sender_domains", "recipient_domains", "recipient_mx")
    @classmethod
    def _check_patterns(cls, value: list[str]) -> list[str]:
        return domain_patterns(value)

    @field_validator("route", "failover")
    @classmethod
    def _check_route_name(cls, value: str) -> str:
        if value and not ROUTE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a route name")
        return value

    @model_validator(mode="after")
    def _check_failover(self) -> RoutingRule:
        if self.failover and self.failover == self.route:
            raise ValueError("failover must be another route than route")
        return self


class RoutingSettings(BaseModel):
    """Ordered routing rules: the first that matches a message picks its route."""

    rules: list[RoutingRule] = []
    # DNS servers for MX rollup lookups (HOST or HOST:PORT); empty means the system's.
    resolvers: list[str] = []


class _DeliveryFacts(Protocol):
    """What routing reads of the ``[delivery]`` section."""

    @property
    def workers(self) -> int: ...

    @property
    def hostname(self) -> str: ...

    @property
    def default_route(self) -> str: ...


class RoutingInputs(Protocol):
    """The settings routing builds routes and rules from.

    :class:`mailfleet.agent.config.AgentSettings` has them all; routing names only what it reads,
    so it never imports the assembly above it.
    """

    @property
    def data_dir(self) -> Path: ...

    @property
    def delivery(self) -> _DeliveryFacts: ...

    @property
    def routes(self) -> Mapping[str, RouteSettings]: ...

    @property
    def routing(self) -> RoutingSettings: ...

    @property
    def ip_pools(self) -> IpPoolsSettings: ...

    @property
    def limits(self) -> LimitsSettings: ...

    @property
    def shared(self) -> SharedSettings: ...

"""A worker's routing: the rules in force, its routes, and their health for failover."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Mapping, Sequence

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind, Route
from mailfleet.agent.routes.settings import DirectMxRoute, RouteSettings
from mailfleet.agent.routes.smtp.mx import DestinationError, MxResolver
from mailfleet.agent.routes.source_ips import routes_by_pool
from mailfleet.agent.routing.failover import Health, deliver_with_failover
from mailfleet.agent.routing.rules import MessageFacts, Plan, RoutingTable, choose

# Stands for "the direct MX route of this pool" when no route sends from it (any more).
_POOL_PREFIX = "pool:"


class _MissingRoute:
    """Stands in for a route name the configuration does not define: fails, never sends."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name.startswith(_POOL_PREFIX):
            pool = name.removeprefix(_POOL_PREFIX)
            self._reason = f"no direct MX route sends from IP pool {pool!r}"
        else:
            self._reason = f"no route named {name!r}"

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        return [Outcome(e.message_id, OutcomeKind.FAILED, self._reason) for e in batch]

    async def close(self) -> None:
        return None


class Router:
    """Picks each message's plan by the rules and delivers it with failover."""

    def __init__(
        self,
        table: RoutingTable,
        routes: Mapping[str, Route],
        configs: Mapping[str, RouteSettings],
        resolvers: list[str],
    ) -> None:
        self.table = table
        self._routes = routes
        self._configs = configs
        self._resolvers = resolvers
        self._resolver: MxResolver | None = None  # made on first need: most rules need no DNS
        self._health = Health()
        self._pool_routes = {pool: names[0] for pool, names in routes_by_pool(configs).items()}

    async def plan(self, facts: MessageFacts) -> Plan:
        """Where a message with ``facts`` goes under the current rules."""
        mx_hosts: list[str] = []
        if self.table.needs_mx:
            if self._resolver is None:
                self._resolver = MxResolver(self._resolvers)
            # No MX to roll up by: the route itself reports the domain's fate.
            with contextlib.suppress(DestinationError):
                mx_hosts = [h.name for h in await self._resolver.hosts(facts.recipient_domain)]
        return choose(self.table, facts, mx_hosts)

    def pool_route(self, pool: str) -> str:
        """The route that sends from IP pool ``pool`` (the first configured, if several)."""
        return self._pool_routes.get(pool) or f"{_POOL_PREFIX}{pool}"

    def per_domain(self, plan: Plan) -> bool:
        """Whether ``plan`` sends by direct MX (first or as failover), where each recipient
        domain is a destination of its own; a relay or a provider is one destination."""
        return any(
            isinstance(self._configs.get(name), DirectMxRoute)
            for name in (plan.route, plan.failover)
            if name
        )

    def route(self, name: str) -> Route:
        """The route called ``name`` (one that fails every message if there is none)."""
        return self._routes.get(name) or _MissingRoute(name)

    async def deliver(self, plan: Plan, batch: Sequence[Envelope]) -> list[Outcome]:
        """Deliver ``batch`` as ``plan`` says: one recipient domain's envelopes when the plan
        is :meth:`per_domain`, any recipients' otherwise."""
        failover = self.route(plan.failover) if plan.failover else None
        return await deliver_with_failover(
            batch,
            self.route(plan.route),
            failover,
            plan.failover_after_seconds,
            self._health,
            self._health_key(plan.route, batch),
        )

    def _health_key(self, route: str, batch: Sequence[Envelope]) -> Hashable:
        # Direct MX fails per destination (one domain's dead MX says nothing of the others);
        # a relay or a provider fails as a whole.
        if isinstance(self._configs.get(route), DirectMxRoute) and batch:
            return (route, batch[0].domain)
        return route

    async def close(self) -> None:
        """Close every route's connections."""
        for route in self._routes.values():
            await route.close()

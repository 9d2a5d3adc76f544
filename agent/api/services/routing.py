"""Routing: the configured routes (never their secrets) and the ordered rules (admin keys)."""

from __future__ import annotations

from typing import Any

import grpc

from agent.api import auth
from agent.config import RouteSettings, RoutingRule
from agent.errors import FailedPrecondition, InvalidArgument
from agent.routes.rules import MessageFacts, RoutingTable, choose
from agent.routes.table import RoutingState, RulesError, StaleVersion, parse_rules
from mailfleet.v1 import routing_pb2, routing_pb2_grpc

_LANES = {
    "any": routing_pb2.ROUTING_LANE_ANY,
    "transactional": routing_pb2.ROUTING_LANE_TRANSACTIONAL,
    "bulk": routing_pb2.ROUTING_LANE_BULK,
}
_LANE_NAMES = {number: name for name, number in _LANES.items()}


def route_info(name: str, config: RouteSettings) -> routing_pb2.RouteInfo:
    """A route as the API shows it: settings that name secret files are left out."""
    data = config.model_dump(mode="json")
    secret_fields = [k for k in data if k.endswith("_file")]
    has_secret = any(data[k] for k in secret_fields)
    settings = {
        k: str(v) for k, v in data.items() if k != "type" and k not in secret_fields and v != ""
    }
    return routing_pb2.RouteInfo(
        name=name, type=config.type, settings=settings, has_secret=has_secret
    )


def _rule_message(rule: RoutingRule) -> routing_pb2.RoutingRule:
    return routing_pb2.RoutingRule(
        name=rule.name,
        tenants=rule.tenants,
        sender_domains=rule.sender_domains,
        recipient_domains=rule.recipient_domains,
        recipient_mx=rule.recipient_mx,
        tags=rule.tags,
        lane=_LANES[rule.lane],
        route=rule.route,
        failover=rule.failover,
        failover_after_seconds=rule.failover_after_seconds,
    )


def _rule_data(rule: routing_pb2.RoutingRule) -> dict[str, object]:
    if rule.lane not in _LANE_NAMES:
        raise InvalidArgument("lane", f"unknown lane {rule.lane}")
    data: dict[str, object] = {
        "name": rule.name,
        "tenants": list(rule.tenants),
        "sender_domains": list(rule.sender_domains),
        "recipient_domains": list(rule.recipient_domains),
        "recipient_mx": list(rule.recipient_mx),
        "tags": list(rule.tags),
        "lane": _LANE_NAMES[rule.lane],
        "route": rule.route,
        "failover": rule.failover,
    }
    if rule.failover_after_seconds or rule.failover:
        data["failover_after_seconds"] = rule.failover_after_seconds
    return data


def _rule_set(table: RoutingTable) -> routing_pb2.RuleSet:
    return routing_pb2.RuleSet(
        rules=[_rule_message(r) for r in table.rules],
        default_route=table.default_route,
        version=table.version,
    )


class RoutingService(routing_pb2_grpc.RoutingServicer):
    """Shows the routes and reads, replaces and explains the rules."""

    def __init__(self, state: RoutingState) -> None:
        self._state = state

    async def ListRoutes(
        self, request: routing_pb2.ListRoutesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routing_pb2.ListRoutesResponse:
        auth.require_admin()
        return routing_pb2.ListRoutesResponse(
            routes=[route_info(n, c) for n, c in sorted(self._state.routes.items())]
        )

    async def GetRules(
        self, request: routing_pb2.GetRulesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routing_pb2.RuleSet:
        auth.require_admin()
        return _rule_set(self._state.table)

    async def SetRules(
        self, request: routing_pb2.SetRulesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routing_pb2.RuleSet:
        auth.require_admin()
        expected = request.expected_version if request.HasField("expected_version") else None
        try:
            rules = parse_rules([_rule_data(r) for r in request.rules])
            table = self._state.replace(rules, expected)
        except StaleVersion as exc:
            raise FailedPrecondition(str(exc)) from None
        except RulesError as exc:
            field, _, problem = str(exc).partition(": ")
            raise InvalidArgument(field, problem) from None
        return _rule_set(table)

    async def ExplainRoute(
        self, request: routing_pb2.ExplainRouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> routing_pb2.ExplainRouteResponse:
        auth.require_admin()
        facts = MessageFacts(
            tenant=request.tenant,
            sender_domain=request.sender_domain.lower(),
            recipient_domain=request.recipient_domain.lower(),
            tags=tuple(request.tags),
            transactional=request.transactional,
        )
        plan = choose(self._state.table, facts, list(request.recipient_mx))
        return routing_pb2.ExplainRouteResponse(
            rule=plan.rule, route=plan.route, failover=plan.failover
        )

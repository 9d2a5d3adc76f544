"""Routing: the configured routes (never their secrets) and the ordered rules (admin keys)."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path
from typing import Any

import grpc

from mailfleet.agent.api import auth, convert
from mailfleet.agent.errors import FailedPrecondition, InvalidArgument
from mailfleet.agent.model import Campaign
from mailfleet.agent.routes.settings import RouteSettings
from mailfleet.agent.routes.source_ips import sent_today
from mailfleet.agent.routing.estimate import estimate
from mailfleet.agent.routing.rules import MessageFacts, RoutingTable, choose
from mailfleet.agent.routing.settings import RoutingRule
from mailfleet.agent.routing.table import RoutingState, RulesError, StaleVersion, parse_rules
from mailfleet.agent.store import campaigns, tenants
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import routing_pb2, routing_pb2_grpc

_LANES = {
    "any": routing_pb2.ROUTING_LANE_ANY,
    "transactional": routing_pb2.ROUTING_LANE_TRANSACTIONAL,
    "bulk": routing_pb2.ROUTING_LANE_BULK,
}
_LANE_NAMES = {number: name for name, number in _LANES.items()}


# Settings that name files holding secrets: reported as present, never shown.
SECRET_FIELDS = frozenset(
    {"password_file", "api_key_file", "webhook_signing_key_file", "webhook_credentials_file"}
)


def route_info(name: str, config: RouteSettings) -> routing_pb2.RouteInfo:
    """A route as the API shows it: settings that name secret files are left out."""
    data = config.model_dump(mode="json")
    secret_fields = [k for k in data if k in SECRET_FIELDS]
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


def _remaining_by_domain(
    conn: sqlite3.Connection, tenant_id: int, campaign_id: int
) -> tuple[Campaign, str, dict[str, int]]:
    """The campaign, its tenant's name and its unsent messages per recipient domain."""
    campaign = campaigns.get(conn, tenant_id, campaign_id)
    tenant = tenants.get_tenant(conn, tenant_id).name
    return campaign, tenant, campaigns.unsent_by_domain(conn, campaign_id)


class RoutingService(routing_pb2_grpc.RoutingServicer):
    """Shows the routes and reads, replaces and explains the rules; estimates finishes."""

    def __init__(self, state: RoutingState, store: Store, data_dir: Path) -> None:
        self._state = state
        self._store = store
        self._warmup_dir = data_dir / "warmup"

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

    async def EstimateFinish(
        self,
        request: routing_pb2.EstimateFinishRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> routing_pb2.EstimateFinishResponse:
        principal = auth.caller()
        campaign, tenant, by_domain = await self._store.read(
            lambda c: _remaining_by_domain(c, principal.tenant_id, request.campaign_id)
        )
        now = datetime.datetime.now(datetime.UTC)
        spec = campaign.spec
        found = estimate(
            by_domain=by_domain,
            facts=MessageFacts(
                tenant=tenant,
                sender_domain=spec.sender.from_address.rpartition("@")[2].lower(),
                recipient_domain="",
                tags=spec.tags,
                transactional=False,
            ),
            table=self._state.table,
            routes=self._state.routes,
            pools=self._state.pools,
            now=now,
            sent_today=sent_today(self._warmup_dir, now.date()),
            throttle_per_minute=spec.throttle_per_minute,
        )
        reply = routing_pb2.EstimateFinishResponse(
            remaining=found.remaining, finish_by=convert.timestamp(found.finish_by.timestamp())
        )
        for r in found.routes:
            item = reply.routes.add(
                route=r.route,
                pool=r.pool,
                remaining=r.remaining,
                finish_by=convert.timestamp(r.finish_by.timestamp()),
            )
            if r.today_capacity is not None:
                item.today_capacity = r.today_capacity
        return reply

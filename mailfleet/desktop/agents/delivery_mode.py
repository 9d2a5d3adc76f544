"""Whether an agent's campaign mail really leaves it, or stays in its capture mailbox.

Read from the agent's routing: the default route and every rule's route and failover, as
``GetRules`` and ``ListRoutes`` report them. Only when each of them is a capture route is the
mail "captured"; a split or any other route counts as real delivery, so the answer errs on
the side of warning. Blocking: run it off the GUI thread.
"""

from __future__ import annotations

import enum

import grpc

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.v1 import routing_pb2


class DeliveryMode(enum.StrEnum):
    """Where an agent's campaign mail goes."""

    CAPTURE = "capture"  # kept in the agent's capture mailbox: nothing leaves the machine
    REAL = "real"  # delivered to the recipients
    UNKNOWN = "unknown"  # the agent could not say (unreachable, or the key may not ask)


def delivery_mode(record: AgentRecord) -> DeliveryMode:
    """How ``record``'s campaign mail is delivered, from its routing rules."""
    try:
        with registry.stubs(record) as agent:
            rules = agent.routing.GetRules(
                routing_pb2.GetRulesRequest(), timeout=registry.CALL_TIMEOUT
            )
            routes = agent.routing.ListRoutes(
                routing_pb2.ListRoutesRequest(), timeout=registry.CALL_TIMEOUT
            )
    except (grpc.RpcError, registry.AgentError, registry.FingerprintMismatch):
        return DeliveryMode.UNKNOWN
    kinds = {route.name: route.type for route in routes.routes}
    used = {rules.default_route}
    for rule in rules.rules:
        if rule.lane != routing_pb2.ROUTING_LANE_TRANSACTIONAL:
            used.update(name for name in (rule.route, rule.failover) if name)
    if all(kinds.get(name) == "capture" for name in used):
        return DeliveryMode.CAPTURE
    return DeliveryMode.REAL

"""What a webhook POST carries: a JSON batch of events, in the events log's order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from mailfleet.agent.model import Event, EventType


def type_name(type_: EventType) -> str:
    """An event type as receivers see it: ``message.delivered``, ``campaign.started``."""
    return type_.name.lower().replace("_", ".", 1)


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _event(agent_id: str, e: Event) -> dict[str, object]:
    return {
        "id": f"{agent_id}-{e.seq}",
        "seq": e.seq,
        "type": type_name(e.type),
        "time": _time(e.time),
        "campaign_id": e.campaign_id,
        "message_id": e.message_id,
        "email": e.email,
        "attrs": e.attrs,
    }


def body(agent_id: str, tenant_id: int, found: Sequence[Event]) -> bytes:
    """The JSON body of one POST: the agent, the tenant and its events, oldest first."""
    return json.dumps(
        {
            "type": "events",
            "agent_id": agent_id,
            "tenant_id": tenant_id,
            "events": [_event(agent_id, e) for e in found],
        },
        separators=(",", ":"),
    ).encode()


def test_body(agent_id: str, tenant_id: int, now: float) -> bytes:
    """The body of a test POST: no events, so a receiver can tell it from real ones."""
    return json.dumps(
        {"type": "test", "agent_id": agent_id, "tenant_id": tenant_id, "time": _time(now)},
        separators=(",", ":"),
    ).encode()

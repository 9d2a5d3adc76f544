"""Pulling what visitors did on an agent's signup forms (``Signups.ListSignupChanges``) by the
agent's signup cursor, and applying it exactly once (``mailfleet.desktop.services.signups``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, select

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.db.models import Agent
from mailfleet.desktop.services import signups
from mailfleet.desktop.services.signups import AppliedSignups, Consent, SignupChange
from mailfleet.v1 import signups_pb2

PAGE = 1_000
_KINDS = {
    signups_pb2.SIGNUP_CHANGE_KIND_SIGNED_UP: signups.SIGNED_UP,
    signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED: signups.CONFIRMED,
    signups_pb2.SIGNUP_CHANGE_KIND_EXPIRED: signups.EXPIRED,
    signups_pb2.SIGNUP_CHANGE_KIND_FIELDS_UPDATED: signups.FIELDS_UPDATED,
    signups_pb2.SIGNUP_CHANGE_KIND_UNSUBSCRIBED: signups.UNSUBSCRIBED,
}


def _time(stamp: Timestamp) -> datetime:
    return datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, UTC)


def change(msg: signups_pb2.SignupChange) -> SignupChange:
    """The contract's change as the services take it (an address's change has no signup:
    its address, fields and lists are the change's own)."""
    s, c = msg.signup, msg.signup.consent
    return SignupChange(
        seq=msg.seq,
        kind=_KINDS.get(msg.kind, ""),
        signup_id=s.signup_id,
        form_id=s.form_id,
        email=msg.email or s.email,
        consent=Consent(
            time=_time(c.time if c.HasField("time") else msg.time),
            ip=c.ip,
            user_agent=c.user_agent,
            text=c.consent_text,
            version=c.consent_version,
            confirmed_at=_time(c.confirmed_at) if c.HasField("confirmed_at") else None,
            confirm_ip=c.confirm_ip,
            confirm_user_agent=c.confirm_user_agent,
        ),
        fields=dict(msg.fields or s.fields),
        lists=tuple(msg.lists or s.lists),
    )


def _cursor(engine: Engine, agent_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(Agent.signup_cursor).where(Agent.id == agent_id)) or 0)


def pull_from(
    engine: Engine, workspace_id: int, agent_id: int, agent: AgentStubs, stop: threading.Event
) -> AppliedSignups:
    """Read and apply every change past the agent's cursor, a page at a time."""
    total = AppliedSignups(cursor=_cursor(engine, agent_id))
    while not stop.is_set():
        page = agent.signups.ListSignupChanges(
            signups_pb2.ListSignupChangesRequest(after_seq=total.cursor, limit=PAGE),
            timeout=registry.CALL_TIMEOUT * 3,
        )
        applied = signups.apply_changes(
            engine, workspace_id, agent_id, [change(c) for c in page.changes], page.next_after_seq
        )
        total.changes += applied.changes
        total.signed_up += applied.signed_up
        total.confirmed += applied.confirmed
        moved = applied.cursor != total.cursor
        total.cursor = applied.cursor
        if not page.changes or not moved:
            break
    return total


def pull(
    engine: Engine, workspace_id: int, record: AgentRecord, stop: threading.Event
) -> AppliedSignups:
    """``pull_from`` on a channel of its own to ``record``."""
    with registry.stubs(record) as agent:
        return pull_from(engine, workspace_id, record.id, agent, stop)

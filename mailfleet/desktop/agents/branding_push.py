"""Giving an agent the workspace's branding (``Signups.SetBranding``) when it lacks the latest
save: part of each signup sync round, so an agent that was away gets it when it is back."""

from __future__ import annotations

from sqlalchemy import Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services import workspace_branding as branding
from mailfleet.v1 import signups_pb2


def request(look: branding.Branding) -> signups_pb2.SetBrandingRequest:
    """The contract's message for ``look``."""
    return signups_pb2.SetBrandingRequest(
        branding=signups_pb2.Branding(
            logo_url=look.logo_url,
            accent_color=look.accent_color,
            background_color=look.background_color,
            text_color=look.text_color,
        ),
        language=look.language,
    )


def push(engine: Engine, record: AgentRecord) -> bool:
    """Send the branding ``record`` lacks and record that it has it; whether one was sent.
    Raises ``grpc.RpcError`` (and the registry's errors) when the agent cannot be reached: it
    stays behind and is tried again at the next round."""
    with engine.connect() as conn:
        pending = branding.pending_for(conn, record.id)
    if pending is None:
        return False
    with registry.stubs(record) as agent:
        agent.signups.SetBranding(request(pending.branding), timeout=registry.CALL_TIMEOUT)
    with engine.begin() as conn:
        branding.record_push(conn, record.id, pending.revision)
    return True

"""Healing a gap in an agent's events: the desktop was away longer than the agent keeps them.

The agent answers a cursor older than its retention with OUT_OF_RANGE. The follower then reads
again from the oldest event the agent still has (``after_seq=0``: those all lie past the old
cursor, so none is applied twice), and asks the agent for each started part's campaign. A part
whose campaign the agent has finished is completed; its recipients the desktop still thinks
queued or deferred had their outcome in the pruned events, so they are recorded as *unknown*
rather than left waiting for ever. Parts still sending keep waiting for their next events.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import eventsync, registry
from mailfleet.desktop.db.models import CampaignPart, CampaignRecipient, RecipientStatus
from mailfleet.desktop.services import campaigns
from mailfleet.v1 import campaigns_pb2

# Agent campaign states with nothing left to send.
_FINISHED = (campaigns_pb2.CAMPAIGN_STATE_COMPLETED, campaigns_pb2.CAMPAIGN_STATE_CANCELLED)
# What the desktop may still believe of a recipient whose outcome was pruned.
_WAITING = (
    RecipientStatus.PENDING.value,
    RecipientStatus.QUEUED.value,
    RecipientStatus.DEFERRED.value,
)


def heal(engine: Engine, agent_id: int, agent: AgentStubs) -> eventsync.Applied:
    """Complete the agent's finished parts and mark their unheard recipients unknown; returns
    which campaigns changed (blocking)."""
    with engine.connect() as conn:
        started = conn.execute(
            select(CampaignPart.id, CampaignPart.campaign_id, CampaignPart.agent_campaign_id).where(
                CampaignPart.agent_id == agent_id,
                CampaignPart.state.in_([s.value for s in campaigns.ON_AGENT]),
                CampaignPart.agent_campaign_id.is_not(None),
            )
        ).all()
    finished: list[tuple[int, int]] = []
    for part_id, campaign_id, remote_id in started:
        remote = agent.campaigns.GetCampaign(
            campaigns_pb2.CampaignRef(campaign_id=remote_id or 0), timeout=registry.CALL_TIMEOUT
        )
        if remote.state in _FINISHED:
            finished.append((part_id, campaign_id))
    applied = eventsync.Applied()
    if not finished:
        return applied
    with engine.begin() as conn:
        part_ids = [p for p, _ in finished]
        conn.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.part_id.in_(part_ids), CampaignRecipient.status.in_(_WAITING))
            .values(status=RecipientStatus.UNKNOWN.value)
        )
        eventsync.complete_parts(conn, part_ids)
    applied.campaigns.update(c for _, c in finished)
    return applied

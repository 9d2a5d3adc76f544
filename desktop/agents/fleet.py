"""Controlling a campaign on every agent that sends it, and moving work between agents.

Pause, resume and cancel go to each part's agent; an agent that cannot be reached is reported
by name and the others still get the command. Moving an unreachable agent's unsent recipients
hands them to other agents' new parts; the old part is marked ``moved`` and cancelled on its
agent as soon as it is reachable again (``cancel_moved_parts``), before it can send any more.
Recipients the desktop knows to be finished (delivered, bounced, …) are never moved.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import grpc
from sqlalchemy import Engine, func, select, update

from desktop.agents import registry
from desktop.db.models import (
    Campaign,
    CampaignPart,
    CampaignRecipient,
    CampaignState,
    PartState,
    RecipientStatus,
)
from desktop.services import campaigns
from mailfleet.v1 import campaigns_pb2

_ACTIONS = {
    "pause": (CampaignState.PAUSED, "PauseCampaign", "paused"),
    "resume": (CampaignState.SENDING, "ResumeCampaign", "resumed"),
    "cancel": (CampaignState.CANCELLED, "CancelCampaign", "cancelled"),
}
# Recipients that may still be sent: never confirmed finished by their agent.
UNSENT = (RecipientStatus.PENDING.value, RecipientStatus.DEFERRED.value)


@dataclass(frozen=True)
class ControlResult:
    """Which agents took the command and which could not be reached (with why)."""

    done: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


def control(engine: Engine, workspace_id: int, campaign_id: int, action: str) -> ControlResult:
    """Pause, resume or cancel the campaign on every agent sending a part of it.

    The campaign's state changes only when its agents took the command (a cancel always
    stops the desktop's side: nothing more is uploaded); pausing or resuming a campaign in a
    state where that means nothing (e.g. resuming one no agent holds yet) is refused.
    """
    state, method, done_word = _ACTIONS[action]
    with engine.connect() as conn:
        campaign = campaigns.get(conn, workspace_id, campaign_id)
        current = CampaignState(campaign.state)
        if action not in campaigns.allowed_actions(current):
            raise campaigns.CampaignError(f"A campaign that is {current} cannot be {done_word}.")
        live = [
            p
            for p in campaigns.parts(conn, campaign_id)
            if p.state in (PartState.STARTED, PartState.UPLOADING)
            and p.agent_campaign_id is not None
        ]
        records = {p.agent_id: registry.get_agent(conn, workspace_id, p.agent_id) for p in live}
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    for part in live:
        record = records[part.agent_id]
        try:
            with registry.stubs(record) as agent:
                call = getattr(agent.campaigns, method)
                call(
                    campaigns_pb2.CampaignRef(campaign_id=part.agent_campaign_id or 0),
                    timeout=registry.CALL_TIMEOUT,
                )
            done.append(record.name)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                done.append(record.name)  # that part finished meanwhile: nothing to change
            else:
                failed.append((record.name, registry.describe_rpc_error(exc)))
        except (registry.AgentError, registry.FingerprintMismatch) as exc:
            failed.append((record.name, str(exc)))
    with engine.begin() as conn:
        if (done and not failed) or action == "cancel":
            campaigns.set_state(conn, campaign_id, state)
        if action == "cancel":
            conn.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.campaign_id == campaign_id,
                    CampaignRecipient.status == RecipientStatus.PENDING.value,
                    CampaignRecipient.part_id.in_(
                        select(CampaignPart.id).where(
                            CampaignPart.campaign_id == campaign_id,
                            CampaignPart.state == PartState.PENDING.value,
                        )
                    ),
                )
                .values(status=RecipientStatus.CANCELLED.value)
            )
    return ControlResult(tuple(done), tuple(failed))


def unsent_on(engine: Engine, campaign_id: int, agent_id: int) -> int:
    """How many of the agent's recipients in the campaign are not known to be finished."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(CampaignRecipient)
                .join(CampaignPart, CampaignPart.id == CampaignRecipient.part_id)
                .where(
                    CampaignPart.campaign_id == campaign_id,
                    CampaignPart.agent_id == agent_id,
                    CampaignPart.state != PartState.MOVED.value,
                    CampaignRecipient.status.in_(UNSENT),
                )
            )
            or 0
        )


def move_unsent(
    engine: Engine,
    workspace_id: int,
    campaign_id: int,
    from_agent: int,
    to_agents: Sequence[tuple[int, int]],
) -> int:
    """Give ``from_agent``'s unsent recipients of the campaign to ``to_agents`` (id, weight);
    returns how many moved. Upload them with ``upload.upload_campaign`` afterwards."""
    if not to_agents or any(a == from_agent for a, _ in to_agents):
        raise campaigns.CampaignError("choose other agents to take over the recipients")
    with engine.begin() as conn:
        campaign = campaigns.get(conn, workspace_id, campaign_id)
        if campaign.state in (CampaignState.COMPLETED.value, CampaignState.CANCELLED.value):
            raise campaigns.CampaignError(f"the campaign is already {campaign.state}")
        for agent_id, _ in to_agents:
            registry.get_agent(conn, workspace_id, agent_id)
        old = [
            p.id
            for p in campaigns.parts(conn, campaign_id)
            if p.agent_id == from_agent and p.state is not PartState.MOVED
        ]
        if not old:
            raise campaigns.CampaignError("that agent sends no part of this campaign")
        conn.execute(
            update(CampaignPart).where(CampaignPart.id.in_(old)).values(state=PartState.MOVED.value)
        )
        count = len(campaigns.parts(conn, campaign_id))
        new = campaigns.add_parts(
            conn, campaign_id, campaign.key_prefix, to_agents, first_number=count + 1
        )
        total = sum(w for _, w in new)
        moved = conn.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.part_id.in_(old), CampaignRecipient.status.in_(UNSENT))
            .values(
                part_id=campaigns.weighted_parts(conn, new, CampaignRecipient.id % total),
                status=RecipientStatus.PENDING.value,
            )
        ).rowcount
        conn.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(state=CampaignState.UPLOADING.value)
        )
        return int(moved)


def move_to_reachable(
    engine: Engine,
    workspace_id: int,
    campaign_id: int,
    from_agent: int,
    unreachable: Collection[int],
) -> int | None:
    """Move ``from_agent``'s unsent recipients to the campaign's other reachable agents (or, if
    it has none, every other reachable agent), in equal shares; returns how many moved, or None
    when no agent can take them."""
    with engine.connect() as conn:
        used = {p.agent_id for p in campaigns.parts(conn, campaign_id)}
        others = [
            r.id
            for r in registry.list_agents(conn, workspace_id)
            if r.id != from_agent and r.id not in unreachable
        ]
    targets = [a for a in others if a in used] or others
    if not targets:
        return None
    return move_unsent(engine, workspace_id, campaign_id, from_agent, [(a, 1) for a in targets])


def cancel_moved_parts(engine: Engine, workspace_id: int, agent_id: int) -> int:
    """Cancel, on the agent, the parts whose recipients went elsewhere; returns how many.

    Called whenever the agent is reached again, before its events are read.
    """
    with engine.connect() as conn:
        record = registry.get_agent(conn, workspace_id, agent_id)
        pending = conn.execute(
            select(CampaignPart.id, CampaignPart.agent_campaign_id).where(
                CampaignPart.agent_id == agent_id,
                CampaignPart.state == PartState.MOVED.value,
            )
        ).all()
    if not pending:
        return 0
    with registry.stubs(record) as agent:
        for part_id, remote_id in pending:
            if remote_id is not None:
                try:
                    agent.campaigns.CancelCampaign(
                        campaigns_pb2.CampaignRef(campaign_id=remote_id),
                        timeout=registry.CALL_TIMEOUT,
                    )
                except grpc.RpcError as exc:
                    # Already completed or cancelled there: nothing left to stop.
                    if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
            with engine.begin() as conn:
                conn.execute(
                    update(CampaignPart)
                    .where(CampaignPart.id == part_id)
                    .values(state=PartState.CANCELLED.value)
                )
    return len(pending)

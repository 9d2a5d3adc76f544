"""Controlling a campaign on every agent that sends it, and moving work between agents.

Pause, resume and cancel are recorded on each part (``pausing``, ``resuming``,
``cancelling``) and then go to each part's agent; an agent that cannot be reached is reported
by name, the others still get the command, and it gets it as soon as it is reachable again
(``deliver_to_agent``), before its events are read. The campaign's state follows what the
agents acknowledged (``campaigns.settle``). Moving an unreachable agent's unsent recipients
hands them to other agents' new parts; the old part is marked ``moved`` and cancelled on its
agent the same way, before it can send any more.
Recipients the desktop knows to be finished (delivered, bounced, …) are never moved.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import grpc
from sqlalchemy import ColumnElement, Engine, func, select, update

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import registry
from mailfleet.desktop.db.models import (
    Campaign,
    CampaignPart,
    CampaignRecipient,
    CampaignState,
    PartState,
    RecipientStatus,
)
from mailfleet.desktop.services import campaigns
from mailfleet.v1 import campaigns_pb2

# Recipients that may still be sent: never confirmed finished by their agent.
UNSENT = (RecipientStatus.PENDING.value, RecipientStatus.DEFERRED.value)
# action → the part state that records it until the part's agent has taken it
_WAITING = {
    "pause": PartState.PAUSING,
    "resume": PartState.RESUMING,
    "cancel": PartState.CANCELLING,
}
# The parts each action is recorded on (a cancel also stops parts not on their agent yet).
_TAKES = {
    "pause": (PartState.STARTED, PartState.RESUMING),
    "resume": (PartState.PAUSED, PartState.PAUSING),
    "cancel": (PartState.UPLOADING, *campaigns.ON_AGENT),
}
# How long a pause or cancel waits for the messages already in flight on the agent.
SETTLE_SECONDS = 60.0
_DONE_WORD = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}
# What a waiting part becomes once its agent took the command, or answered that its campaign
# is already finished (or cancelled) there, so the part sends nothing more whatever was asked;
# and the agent's method for it. A moved part is cancelled on its agent.
_FINISHED_THERE = {
    PartState.PAUSING: PartState.COMPLETED,
    PartState.RESUMING: PartState.COMPLETED,
    PartState.CANCELLING: PartState.CANCELLED,
    PartState.MOVED: PartState.CANCELLED,
}
_ACKNOWLEDGED = {
    PartState.PAUSING: PartState.PAUSED,
    PartState.RESUMING: PartState.STARTED,
    PartState.CANCELLING: PartState.CANCELLED,
    PartState.MOVED: PartState.CANCELLED,
}
_METHOD = {
    PartState.PAUSING: "PauseCampaign",
    PartState.RESUMING: "ResumeCampaign",
    PartState.CANCELLING: "CancelCampaign",
    PartState.MOVED: "CancelCampaign",
}


@dataclass(frozen=True)
class ControlResult:
    """Which agents took the command and which could not be reached (with why)."""

    done: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


def control(engine: Engine, workspace_id: int, campaign_id: int, action: str) -> ControlResult:
    """Pause, resume or cancel the campaign on every agent sending a part of it.

    The command is recorded on each part at once, then told to the agents. An agent that
    cannot be reached is told when it is back (:func:`deliver_to_agent`); the campaign's state
    changes only once its agents acknowledged (a cancelled campaign is *cancelling* until
    then, and uploads nothing more). A command that means nothing in the campaign's state
    (e.g. resuming one no agent holds yet) is refused with ``CampaignError``.
    """
    waiting = _WAITING[action]
    with engine.begin() as conn:
        campaign = campaigns.get(conn, workspace_id, campaign_id)
        current = CampaignState(campaign.state)
        waiting_command = campaigns.command_of(conn, campaign_id)
        if action not in campaigns.allowed_actions(current, waiting_command):
            raise campaigns.CampaignError(
                f"A campaign that is {current} cannot be {_DONE_WORD[action]}."
            )
        conn.execute(
            update(CampaignPart)
            .where(
                CampaignPart.campaign_id == campaign_id,
                CampaignPart.state.in_([s.value for s in _TAKES[action]]),
            )
            .values(state=waiting.value)
        )
        if action == "cancel":
            # Parts no agent holds yet simply never go: nothing to tell.
            never = select(CampaignPart.id).where(
                CampaignPart.campaign_id == campaign_id,
                CampaignPart.state == PartState.PENDING.value,
            )
            campaigns.cancel_unsent(conn, never)
            conn.execute(
                update(CampaignPart)
                .where(CampaignPart.id.in_(never))
                .values(state=PartState.CANCELLED.value)
            )
            campaigns.set_state(conn, campaign_id, CampaignState.CANCELLING)
        campaigns.settle(conn, campaign_id)
    return deliver(engine, workspace_id, campaign_id)


def deliver(engine: Engine, workspace_id: int, campaign_id: int) -> ControlResult:
    """Tell each agent of the campaign the command it has not taken yet (blocking)."""
    return _deliver(engine, workspace_id, CampaignPart.campaign_id == campaign_id)


def deliver_to_agent(engine: Engine, workspace_id: int, agent_id: int) -> set[int]:
    """Tell the agent every command it missed while unreachable, including cancelling the
    parts whose recipients went elsewhere; returns the campaigns whose parts changed.

    Called whenever the agent is reached again, before its events are read; raises the
    agent's error when it cannot be reached after all.
    """
    result = _deliver(engine, workspace_id, CampaignPart.agent_id == agent_id)
    if result.failed:
        raise registry.AgentError(result.failed[0][1])
    return set(result.campaigns)


@dataclass(frozen=True)
class _Delivery(ControlResult):
    campaigns: tuple[int, ...] = ()


def _deliver(engine: Engine, workspace_id: int, which: ColumnElement[bool]) -> _Delivery:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                CampaignPart.id,
                CampaignPart.campaign_id,
                CampaignPart.agent_id,
                CampaignPart.agent_campaign_id,
                CampaignPart.state,
            )
            .where(which, CampaignPart.state.in_([s.value for s in _METHOD]))
            .order_by(CampaignPart.agent_id, CampaignPart.id)
        ).all()
        agent_ids = {r.agent_id for r in rows}
        records = {a: registry.get_agent(conn, workspace_id, a) for a in agent_ids}
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    touched: set[int] = set()
    for agent_id, record in records.items():
        parts = [r for r in rows if r.agent_id == agent_id]
        try:
            with registry.stubs(record) as agent:
                for part_id, campaign_id, _agent, remote_id, state in parts:
                    _tell(engine, agent, part_id, campaign_id, remote_id, PartState(state))
                    touched.add(campaign_id)
            done.append(record.name)
        except grpc.RpcError as exc:
            failed.append((record.name, registry.describe_rpc_error(exc)))
        except (registry.AgentError, registry.FingerprintMismatch) as exc:
            failed.append((record.name, str(exc)))
    return _Delivery(tuple(done), tuple(failed), tuple(sorted(touched)))


def _tell(
    engine: Engine,
    agent: AgentStubs,
    part_id: int,
    campaign_id: int,
    remote_id: int | None,
    state: PartState,
) -> None:
    """Give one part's command to its agent and record that it took it: for a pause or a
    cancel, once the messages it was already sending are settled, so nothing more goes out
    after the desktop says *paused* or *cancelled* (else the command stays waiting)."""
    outcome = _ACKNOWLEDGED[state]
    if remote_id is not None:
        ref = campaigns_pb2.CampaignRef(campaign_id=remote_id)
        try:
            reply = getattr(agent.campaigns, _METHOD[state])(ref, timeout=registry.CALL_TIMEOUT)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            outcome = _FINISHED_THERE[state]
        else:
            if state is not PartState.RESUMING and not _settled(agent, ref, reply):
                return
    with engine.begin() as conn:
        # Only if the marketer did not ask something else meanwhile.
        changed = conn.execute(
            update(CampaignPart)
            .where(CampaignPart.id == part_id, CampaignPart.state == state.value)
            .values(state=outcome.value)
        ).rowcount
        if changed and outcome is PartState.CANCELLED and state is not PartState.MOVED:
            campaigns.cancel_unsent(conn, [part_id])
        campaigns.settle(conn, campaign_id)


def _settled(
    agent: AgentStubs, ref: campaigns_pb2.CampaignRef, reply: campaigns_pb2.Campaign
) -> bool:
    """Wait (up to ``SETTLE_SECONDS``) until the agent has no message of the campaign in
    flight: a worker may hold some it leased just before the command."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while reply.counts.in_flight:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
        reply = agent.campaigns.GetCampaign(ref, timeout=registry.CALL_TIMEOUT)
    return True


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
        if campaign.state in (
            CampaignState.COMPLETED.value,
            CampaignState.CANCELLING.value,
            CampaignState.CANCELLED.value,
        ):
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

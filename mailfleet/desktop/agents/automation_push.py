"""Automations to and from the agents that run them (the ``Automations`` service).

``push`` gives one agent every automation it is behind on: the latest definition
(``PutAutomation``, which the agent stores as its next version) and the wanted state
(``ActivateAutomation``/``PauseAutomation``). ``figures`` reads how one automation is doing:
each version's per-step counts (``GetStepStats``) summed over its agents, and how many
contacts are still in it. Both run on a network thread of the page's task runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from sqlalchemy import Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services import automations
from mailfleet.desktop.services.automations import AutomationSummary
from mailfleet.v1 import automations_pb2

COUNTS = ("entered", "sent", "opened", "clicked", "exited")


@dataclass
class PushResult:
    """What one push to one agent did."""

    pushed: list[str] = field(default_factory=list)  # automations it accepted
    refused: dict[str, str] = field(default_factory=dict)  # name → the agent's reason, in words


def _refusal(exc: grpc.RpcError) -> str:
    if isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return f"the agent refused it: {exc.details()}"
    raise exc


def push(engine: Engine, workspace_id: int, record: AgentRecord) -> PushResult:
    """Push what ``record`` is behind on. Raises ``grpc.RpcError`` (and the registry's errors)
    when the agent cannot be reached; what was pushed stays recorded."""
    result = PushResult()
    with engine.connect() as conn:
        pending = automations.pending_for(conn, workspace_id, record.id)
    if not pending:
        return result
    with registry.stubs(record) as agent:
        for item in pending:
            ref = automations_pb2.AutomationRef(name=item.agent_name)
            try:
                if item.definition is not None:
                    agent.automations.PutAutomation(
                        automations_pb2.PutAutomationRequest(
                            name=item.agent_name, definition_json=item.definition
                        ),
                        timeout=registry.CALL_TIMEOUT,
                    )
                change = (
                    agent.automations.ActivateAutomation
                    if item.active
                    else agent.automations.PauseAutomation
                )
                info = change(ref, timeout=registry.CALL_TIMEOUT)
            except grpc.RpcError as exc:
                reason = _refusal(exc)
                result.refused[item.name] = reason
                with engine.begin() as conn:
                    automations.record_push(
                        conn, item.automation_id, record.id, item.revision, item.active, 0, reason
                    )
                continue
            with engine.begin() as conn:
                automations.record_push(
                    conn, item.automation_id, record.id, item.revision, item.active, info.version
                )
            result.pushed.append(item.name)
    return result


@dataclass(frozen=True)
class StepFigures:
    """One step's counts over the automation's agents."""

    kind: str
    entered: int = 0
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    exited: int = 0


@dataclass(frozen=True)
class Figures:
    """How an automation is doing on its agents."""

    versions: dict[int, list[StepFigures]]  # version → its steps' counts, newest version last
    in_progress: int  # contacts still walking its steps, on any version
    unreachable: tuple[str, ...]  # agents that could not be asked, by name


def _add(a: StepFigures, b: automations_pb2.StepStats) -> StepFigures:
    return StepFigures(a.kind or b.kind, *(getattr(a, c) + getattr(b, c) for c in COUNTS))


def figures(engine: Engine, workspace_id: int, summary: AutomationSummary) -> Figures:
    """Every version's per-step counts of ``summary``, summed over the agents that run it (an
    agent numbers versions as it stored them; agents that got every revision agree)."""
    versions: dict[int, list[StepFigures]] = {}
    in_progress = 0
    unreachable = []
    with engine.connect() as conn:
        records = [registry.get_agent(conn, workspace_id, a.agent_id) for a in summary.agents]
    for record in records:
        try:
            with registry.stubs(record) as agent:
                listed = agent.automations.ListAutomations(
                    automations_pb2.ListAutomationsRequest(), timeout=registry.CALL_TIMEOUT
                )
                info = next((a for a in listed.automations if a.name == summary.agent_name), None)
                if info is None:
                    continue
                in_progress += info.active_enrolments
                for version in range(1, info.version + 1):
                    reply = agent.automations.GetStepStats(
                        automations_pb2.GetStepStatsRequest(
                            name=summary.agent_name, version=version
                        ),
                        timeout=registry.CALL_TIMEOUT,
                    )
                    steps = versions.setdefault(version, [])
                    for s in reply.steps:
                        if s.step >= len(steps):
                            steps.append(StepFigures(s.kind))
                        steps[s.step] = _add(steps[s.step], s)
        except (grpc.RpcError, registry.AgentError):
            unreachable.append(record.name)
    return Figures(dict(sorted(versions.items())), in_progress, tuple(unreachable))

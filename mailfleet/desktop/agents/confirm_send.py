"""Sending imported contacts their form's double opt-in mail through the form's agent.

Each request (``services.confirmations``) becomes one ``Signups.Subscribe`` with a key of the
form and the contact: a request sent again (after a crash, or by the signup sync and the import
at once) signs the contact up once and mails them once. What the agent took is marked sent in
the desktop's database after each call; a request it refuses (a required field the contact
lacks) is dropped with the agent's reason, and the contact stays pending confirmation. An agent
that cannot be reached keeps its requests for the next try. Blocking: run it off the GUI
thread.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from sqlalchemy import Engine

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services import confirmations
from mailfleet.desktop.services.confirmations import Request
from mailfleet.v1 import signups_pb2

# The channel the consent records name for a confirmation asked for by an import.
CHANNEL = "Mailfleet desktop import"
_FIELD = re.compile(r"^fields\[([^\]]+)\]")


@dataclass
class SentConfirmations:
    """What a round of sending did."""

    sent: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # address → the agent's reason
    unreachable: list[str] = field(default_factory=list)  # agents' names


Progress = Callable[[int, int], None]  # sent so far, of how many


def _subscribe(agent: AgentStubs, request: Request) -> str:
    """Send one; "" when the agent took it, else its reason for refusing."""
    try:
        agent.signups.Subscribe(
            signups_pb2.SubscribeRequest(
                idempotency_key=request.idempotency_key,
                form_id=request.form_id,
                email=request.email,
                fields=request.fields,
                user_agent=CHANNEL,
            ),
            timeout=registry.CALL_TIMEOUT,
        )
    except grpc.RpcError as exc:
        refused = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
        if isinstance(exc, grpc.Call) and exc.code() in refused:
            # The agent's one line names the field as the contract does: fields[first_name].
            return _FIELD.sub(r"\1", str(exc.details()))
        raise
    return ""


def send_for_agent(
    engine: Engine,
    workspace_id: int,
    record: AgentRecord,
    stop: threading.Event,
    progress: Progress = lambda _done, _total: None,
    result: SentConfirmations | None = None,
) -> SentConfirmations:
    """Send every unsent request whose form ``record`` publishes. Raises ``grpc.RpcError``
    (and the registry's errors) when the agent cannot be reached; what was sent stays marked."""
    done = result or SentConfirmations()
    with engine.connect() as conn:
        batch = confirmations.unsent(conn, workspace_id, record.id)
        total = done.sent + len(done.refused) + confirmations.unsent_count(conn, workspace_id)
    if not batch:
        return done  # no channel opened: the signup sync calls this every round
    with registry.stubs(record) as agent:
        while batch and not stop.is_set():
            for request in batch:
                if stop.is_set():
                    break
                reason = _subscribe(agent, request)
                with engine.begin() as conn:
                    if reason:
                        done.refused[request.email] = reason
                        confirmations.drop(conn, request)
                    else:
                        done.sent += 1
                        confirmations.mark_sent(conn, [request])
                progress(done.sent + len(done.refused), total)
            with engine.connect() as conn:
                batch = confirmations.unsent(conn, workspace_id, record.id)
    return done


def send_all(
    engine: Engine,
    workspace_id: int,
    stop: threading.Event,
    progress: Progress = lambda _done, _total: None,
) -> SentConfirmations:
    """Send every unsent request of the workspace, agent by agent; an agent that cannot be
    reached is named in ``unreachable`` and the others still send theirs."""
    result = SentConfirmations()
    with engine.connect() as conn:
        records = registry.list_agents(conn, workspace_id)
    for record in records:
        if stop.is_set():
            break
        try:
            send_for_agent(engine, workspace_id, record, stop, progress, result)
        except (grpc.RpcError, registry.AgentError, registry.FingerprintMismatch):
            result.unreachable.append(record.name)
    return result

"""Copying the agents' audit logs into the team database, each from its cursor.

Reading an agent's audit log needs an admin key (``Admin.ListAuditEntries``): an agent this
person holds a narrower key for is skipped, and a teammate with an admin key copies it. Entries
of the workspace's own tenant only; the cursor moves in the transaction that copies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import grpc
from sqlalchemy import Engine, select

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentError, AgentRecord
from mailfleet.desktop.db.models import Agent
from mailfleet.desktop.services import audit_log, secrets
from mailfleet.desktop.services.audit_log import AgentEntry
from mailfleet.v1 import admin_pb2, agent_pb2

PAGE = 500
# Pages per agent and pass: a long backlog is copied over the next passes.
MAX_PAGES = 20


@dataclass(frozen=True)
class Collected:
    """What one pass copied, and the agents it could not read (by name)."""

    copied: int
    skipped: tuple[str, ...] = ()
    # The pass failed as a whole (the database could not be written, say).
    failed: bool = False


def collect(engine: Engine, workspace_id: int) -> Collected:
    """Copy every agent's new audit entries (blocking: run it off the GUI thread)."""
    with engine.connect() as conn:
        agents = registry.list_agents(conn, workspace_id)
        rows = conn.execute(
            select(Agent.id, Agent.audit_cursor).where(Agent.workspace_id == workspace_id)
        )
        cursors = {agent_id: int(cursor) for agent_id, cursor in rows}
    copied = 0
    skipped = []
    for record in agents:
        try:
            copied += _collect_one(engine, workspace_id, record, cursors.get(record.id, 0))
        except (AgentError, secrets.KeyringUnavailable, grpc.RpcError):
            skipped.append(record.name)
    return Collected(copied, tuple(skipped))


def _collect_one(engine: Engine, workspace_id: int, record: AgentRecord, cursor: int) -> int:
    copied = 0
    with registry.stubs(record) as agent:
        info = agent.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=registry.CALL_TIMEOUT)
        if not info.admin:
            raise AgentError(f"{record.name}: reading its audit log needs an admin key")
        for _ in range(MAX_PAGES):
            reply = agent.admin.ListAuditEntries(
                admin_pb2.ListAuditEntriesRequest(
                    after_id=cursor, limit=PAGE, tenant_id=info.tenant_id
                ),
                timeout=registry.CALL_TIMEOUT,
            )
            entries = [_entry(e) for e in reply.entries]
            with engine.begin() as conn:
                copied += audit_log.add_agent_entries(
                    conn, workspace_id, record.id, entries, reply.next_after_id
                )
            if len(reply.entries) < PAGE:
                break
            cursor = reply.next_after_id
    return copied


def _entry(e: admin_pb2.AuditEntry) -> AgentEntry:
    return AgentEntry(
        seq=e.id,
        at=e.time.ToDatetime(tzinfo=UTC),
        key_id=e.key_id,
        person=e.person,
        peer=e.peer,
        action=e.action if e.calls <= 1 else f"{e.action} ({e.calls} calls)",
        summary=e.summary,
        outcome=e.outcome,
    )

"""Teammates' own agent keys: made on every agent for an invite, revoked when they leave.

The inviting person's own key makes them (``Admin.CreateApiKey``, so it must be an admin key:
the one a pairing string from ``mailfleet-agent init`` holds), with the scope of the invited
role and the person's name, which the agents' audit logs then show.
"""

from __future__ import annotations

import grpc
from sqlalchemy import Engine

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentError, AgentRecord
from mailfleet.desktop.services import audit_log, invites, people
from mailfleet.desktop.services.invites import NewKey
from mailfleet.desktop.services.people import Role
from mailfleet.v1 import admin_pb2, agent_pb2

_SCOPES = {
    "admin": admin_pb2.KEY_SCOPE_ADMIN,
    "tenant": admin_pb2.KEY_SCOPE_TENANT,
    "campaigns": admin_pb2.KEY_SCOPE_CAMPAIGNS,
    "read": admin_pb2.KEY_SCOPE_READ,
}


def invite(engine: Engine, workspace_id: int, name: str, role: Role) -> str:
    """Add ``name`` to the team as ``role``, make their key on every agent, and return the
    one-time invite string to give them. Nothing is kept when an agent refuses."""
    with engine.begin() as conn:
        person_id = people.add_person(conn, workspace_id, name, role)
        agents = registry.list_agents(conn, workspace_id)
    made: list[tuple[AgentRecord, NewKey]] = []
    try:
        for record in agents:
            made.append((record, _make_key(record, name.strip(), role)))
        with engine.begin() as conn:
            text = invites.create(conn, person_id, [key for _, key in made])
            audit_log.record(conn, workspace_id, "Invited a teammate", f"{name} as {role}")
            return text
    except Exception:
        for record, key in made:
            _revoke(record, key.key_id)
        with engine.begin() as conn:
            people.remove_person(conn, workspace_id, person_id)
        raise


def _make_key(record: AgentRecord, name: str, role: Role) -> NewKey:
    try:
        with registry.stubs(record) as agent:
            info = agent.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=registry.CALL_TIMEOUT)
            reply = agent.admin.CreateApiKey(
                admin_pb2.CreateApiKeyRequest(
                    tenant_id=info.tenant_id,
                    name=f"Mailfleet desktop of {name}"[:200],
                    scope=_SCOPES[people.KEY_SCOPES[role]],
                    person=name,
                ),
                timeout=registry.CALL_TIMEOUT,
            )
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
            raise AgentError(
                f"your key for {record.name} cannot make keys for others: pair it with its "
                "admin pairing string (mailfleet-agent init prints one)"
            ) from exc
        raise AgentError(f"{record.name}: {registry.describe_rpc_error(exc)}") from exc
    return NewKey(record.id, reply.key.key_id, reply.secret)


def _revoke(record: AgentRecord, key_id: str) -> bool:
    """Revoke one key on one agent; False when the agent could not be asked."""
    try:
        with registry.stubs(record) as agent:
            agent.admin.RevokeApiKey(
                admin_pb2.RevokeApiKeyRequest(key_id=key_id), timeout=registry.CALL_TIMEOUT
            )
    except grpc.RpcError as exc:
        return exc.code() == grpc.StatusCode.NOT_FOUND
    except AgentError:
        return False
    return True


def remove(engine: Engine, workspace_id: int, person_id: int) -> list[str]:
    """Take a person off the team and revoke their keys on the agents; returns the names of the
    agents that could not be reached to revoke theirs (revoke it there with
    ``mailfleet-agent key revoke``)."""
    with engine.begin() as conn:
        person = people.get_person(conn, workspace_id, person_id)
        keys = people.remove_person(conn, workspace_id, person_id)
        if person is not None:
            audit_log.record(conn, workspace_id, "Removed a teammate", person.name)
        records = {r.id: r for r in registry.list_agents(conn, workspace_id)}
    missed = []
    for agent_id, key_id in keys:
        record = records.get(agent_id)
        if record is not None and key_id and not _revoke(record, key_id):
            missed.append(record.name)
    return missed

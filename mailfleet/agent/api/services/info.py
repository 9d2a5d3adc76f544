"""AgentInfo: version, identity and the caller's queue."""

from __future__ import annotations

import socket
from typing import Any

import grpc

from mailfleet import agent
from mailfleet.agent.api import auth, convert
from mailfleet.agent.store import events, messages, tenants
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import agent_pb2, agent_pb2_grpc


class AgentInfoService(agent_pb2_grpc.AgentInfoServicer):
    """Who this agent is."""

    def __init__(self, store: Store, agent_id: str, started_at: float) -> None:
        self._store = store
        self._agent_id = agent_id
        self._started_at = started_at

    async def GetInfo(
        self, request: agent_pb2.GetInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> agent_pb2.GetInfoResponse:
        who = auth.caller()

        def read(conn: Any) -> agent_pb2.GetInfoResponse:
            tenant = tenants.get_tenant(conn, who.tenant_id)
            return agent_pb2.GetInfoResponse(
                version=agent.__version__,
                agent_id=self._agent_id,
                hostname=socket.gethostname(),
                started_at=convert.timestamp(self._started_at),
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                admin=who.admin,
                last_event_seq=events.last_seq(conn),
                queue=convert.state_counts(messages.tenant_counts(conn, who.tenant_id)),
            )

        return await self._store.read(read)

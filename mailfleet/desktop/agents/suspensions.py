"""An agent's paused destinations from the desktop: the recipient domains and routes whose mail
the agent holds back (an operator's ``mailfleet-agent queue suspend``), and resuming one.
Qt-free and blocking: run it off the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from mailfleet.agent.client import AgentClient
from mailfleet.desktop.agents.registry import AgentError, AgentRecord, describe_rpc_error
from mailfleet.v1 import queue_pb2

_KINDS = {queue_pb2.SUSPENSION_KIND_DOMAIN: "domain", queue_pb2.SUSPENSION_KIND_ROUTE: "route"}
_KIND_PB = {word: kind for kind, word in _KINDS.items()}


@dataclass(frozen=True)
class Paused:
    """A destination (recipient domain) or a route whose mail waits on the agent."""

    kind: str  # "domain" or "route"
    name: str
    reason: str
    since: datetime
    until: datetime | None  # when it lifts by itself; None: when resumed
    every_tenant: bool  # the agent's operator paused it for every tenant's mail

    @property
    def what(self) -> str:
        """How the list names it: ``example.com`` or ``route relay``."""
        return self.name if self.kind == "domain" else f"route {self.name}"


def _paused(s: queue_pb2.Suspension) -> Paused:
    return Paused(
        kind=_KINDS.get(s.kind, "domain"),
        name=s.name,
        reason=s.reason,
        since=datetime.fromtimestamp(s.created_at.seconds, UTC),
        until=datetime.fromtimestamp(s.until.seconds, UTC) if s.HasField("until") else None,
        every_tenant=s.tenant_id == 0,
    )


def paused(record: AgentRecord) -> list[Paused]:
    """What ``record``'s agent holds back for the pairing's tenant, by kind and name."""
    try:
        with AgentClient(record.pairing()) as client:
            return [_paused(s) for s in client.suspensions()]
    except grpc.RpcError as exc:
        raise AgentError(describe_rpc_error(exc)) from exc


def resume(record: AgentRecord, item: Paused) -> None:
    """Let ``item``'s mail go out again; it leaves the agent's queue at once."""
    request = queue_pb2.ResumeRequest(
        kind=_KIND_PB[item.kind], name=item.name, all_tenants=item.every_tenant
    )
    try:
        with AgentClient(record.pairing()) as client:
            client.resume(request)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code == grpc.StatusCode.NOT_FOUND:
            return  # resumed meanwhile (or lifted by itself): what was asked holds
        if code == grpc.StatusCode.PERMISSION_DENIED:
            raise AgentError(
                f"{item.what} was paused by the agent's operator for every sender;"
                " only an admin pairing key may resume it"
            ) from exc
        raise AgentError(describe_rpc_error(exc)) from exc

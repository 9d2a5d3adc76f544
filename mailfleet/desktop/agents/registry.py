"""Paired agents: pairing by pairing string, the pinned certificate, and reaching them.

The agent's certificate fingerprint is pinned at pairing and checked on every connection; a
different certificate is a blocking error (``FingerprintMismatch``), never a silent re-pin.
Network calls happen outside database transactions.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from sqlalchemy import Connection, Engine, Select, and_, delete, func, insert, select, update

from mailfleet.agent.client import (
    AgentStubs,
    FingerprintMismatch,
    Pairing,
    PairingError,
    parse_pairing,
)
from mailfleet.agent.client import channel as pinned_channel
from mailfleet.desktop.db.models import Agent, CampaignPart, PersonAgentKey
from mailfleet.desktop.services import audit_log, people, secrets
from mailfleet.desktop.services.people import Action
from mailfleet.v1 import agent_pb2, smtp_users_pb2

__all__ = ["AgentError", "AgentRecord", "AgentStatus", "FingerprintMismatch", "pair"]

CALL_TIMEOUT = 10.0


class AgentError(Exception):
    """Pairing or reaching an agent failed; the message says why in the marketer's words."""


@dataclass(frozen=True)
class AgentRecord:
    """A paired agent as stored (its key stays in the keyring)."""

    id: int
    name: str
    host: str
    port: int
    fingerprint: str
    key_ref: str
    local_dir: str | None
    event_cursor: int

    @property
    def target(self) -> str:
        """``host:port`` for display."""
        return f"{self.host}:{self.port}"

    def pairing(self) -> Pairing:
        """The pairing, with the API key read from the keyring."""
        if not self.key_ref:
            raise AgentError(NO_KEY_OF_YOURS)
        return Pairing(self.host, self.port, self.fingerprint, secrets.load_key(self.key_ref))


# What a teammate reads for an agent somebody else paired and no invite gave them a key of.
NO_KEY_OF_YOURS = (
    "you have no key for this agent yet: ask the workspace's owner for an invite, or pair it "
    "with a pairing string of your own"
)

_COLUMNS = (
    Agent.id,
    Agent.name,
    Agent.host,
    Agent.port,
    Agent.fingerprint,
    Agent.key_ref,
    Agent.local_dir,
    Agent.event_cursor,
)


def _select(conn: Connection) -> Select[*tuple[Any, ...]]:
    """The agents' columns, with the key of the person the connection acts for.

    A connection of nobody in particular (no seat) uses the key of whoever paired the agent;
    a person uses their own (none: ""; the first owner: the pairing's,
    ``Seat.holds_pairing_keys``)."""
    seat = people.seat_of(conn)
    if seat is None:
        return select(*_COLUMNS)
    person_id = seat.person.id if seat.person is not None else -1
    own = func.coalesce(PersonAgentKey.key_ref, Agent.key_ref if seat.holds_pairing_keys else "")
    columns = [own if c is Agent.key_ref else c for c in _COLUMNS]
    return select(*columns).outerjoin(
        PersonAgentKey,
        and_(PersonAgentKey.agent_id == Agent.id, PersonAgentKey.person_id == person_id),
    )


def list_agents(conn: Connection, workspace_id: int) -> list[AgentRecord]:
    """The workspace's agents by name."""
    rows = conn.execute(
        _select(conn).where(Agent.workspace_id == workspace_id).order_by(Agent.name)
    )
    return [AgentRecord(*row) for row in rows]


def get_agent(conn: Connection, workspace_id: int, agent_id: int) -> AgentRecord:
    """One of the workspace's agents; ``LookupError`` if it is not one of them."""
    row = conn.execute(
        _select(conn).where(Agent.id == agent_id, Agent.workspace_id == workspace_id)
    ).first()
    if row is None:
        raise LookupError(f"no agent {agent_id} in this workspace")
    return AgentRecord(*row)


def channel(record: AgentRecord) -> grpc.Channel:
    """A blocking channel to the agent, after checking its certificate against the pin."""
    return open_channel(record.pairing())


def open_channel(pairing: Pairing) -> grpc.Channel:
    """A blocking channel for ``pairing``, its certificate checked against the pin."""
    try:
        return pinned_channel(pairing)
    except FingerprintMismatch:
        raise
    except OSError as exc:
        raise AgentError(f"cannot reach the agent at {pairing.target}: {exc}") from exc


@contextlib.contextmanager
def connect(pairing: Pairing) -> Iterator[AgentStubs]:
    """The contract's stubs on a channel to ``pairing``'s agent (pin checked), closed after."""
    with open_channel(pairing) as ch:
        yield AgentStubs.on(ch)


def stubs(record: AgentRecord) -> contextlib.AbstractContextManager[AgentStubs]:
    """The contract's stubs on a channel to a paired agent (pin checked), closed after."""
    return connect(record.pairing())


def describe_rpc_error(exc: grpc.RpcError) -> str:
    """A gRPC failure in words."""
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return "the agent refused the API key (revoked, or a pairing string of another agent)"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"the agent is unreachable ({details})"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "the agent did not answer in time"
    return f"{code.name if code else 'error'}: {details}"


def probe(pairing: Pairing) -> agent_pb2.GetInfoResponse:
    """The agent's info, proving its certificate matches the pin and the key is accepted."""
    with connect(pairing) as agent:
        try:
            return agent.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            raise AgentError(describe_rpc_error(exc)) from exc


def pair(
    engine: Engine, workspace_id: int, text: str, name: str = "", local_dir: str | None = None
) -> AgentRecord:
    """Pair the agent named by the pairing string ``text`` and return it.

    Refuses, with the reason, a malformed string, an insecure keyring, a certificate other than
    the pinned one, a refused key, an agent this person has a working key for already, and a
    new agent paired by a role that may not (``Action.MANAGE_AGENTS``). An agent the workspace
    has already but this person has no key of (a teammate paired it, or the keyring lost it)
    takes the string's key as theirs.
    """
    try:
        pairing = parse_pairing(text)
    except PairingError as exc:
        raise AgentError(f"that is not a valid pairing string: {exc}") from exc
    secrets.check_backend()
    with engine.connect() as conn:
        taken = conn.execute(
            _select(conn).where(
                Agent.workspace_id == workspace_id,
                Agent.host == pairing.host,
                Agent.port == pairing.port,
            )
        ).first()
        seat = people.seat_of(conn)
        if taken is None or (seat is not None and seat.person is None):
            people.require(conn, Action.MANAGE_AGENTS)
    if taken is not None:
        return _add_own_key(engine, workspace_id, AgentRecord(*taken), pairing)
    info = probe(pairing)
    chosen = name.strip() or info.hostname or pairing.target
    ref = _store(pairing)
    try:
        with engine.begin() as conn:
            if conn.scalar(
                select(func.count())
                .select_from(Agent)
                .where(Agent.workspace_id == workspace_id, Agent.name == chosen)
            ):
                chosen = f"{chosen} ({pairing.target})"
            new_id = conn.scalar(
                insert(Agent)
                .values(
                    workspace_id=workspace_id,
                    name=chosen,
                    host=pairing.host,
                    port=pairing.port,
                    fingerprint=pairing.fingerprint,
                    key_ref=ref,
                    local_dir=local_dir,
                    event_cursor=0,
                )
                .returning(Agent.id)
            )
            assert new_id is not None
            person_id = people.acting_person_id(conn)
            if person_id is not None:
                people.keep_key(conn, person_id, int(new_id), ref, key_id_of(pairing.api_key))
            audit_log.record(conn, workspace_id, "Paired an agent", f"{chosen} at {pairing.target}")
            return get_agent(conn, workspace_id, int(new_id))
    except Exception:
        secrets.delete_key(ref)
        raise


def key_id_of(api_key: str) -> str:
    """The public id of an agent's API key (``mf_<id>_<secret>``), "" for another shape."""
    parts = api_key.split("_", 2)
    return parts[1] if len(parts) == 3 else ""


def _store(pairing: Pairing) -> str:
    ref = f"agent-{uuid.uuid4().hex}"
    secrets.store_key(ref, pairing.api_key)
    return ref


def _has_working_key(record: AgentRecord) -> bool:
    try:
        record.pairing()
    except (AgentError, secrets.KeyringUnavailable):
        return False
    return True


def _add_own_key(
    engine: Engine, workspace_id: int, record: AgentRecord, pairing: Pairing
) -> AgentRecord:
    """Keep ``pairing``'s key as the acting person's for an agent the workspace has already."""
    if _has_working_key(record):
        raise AgentError(f"the agent at {pairing.target} is already paired as {record.name!r}")
    if pairing.fingerprint.lower() != record.fingerprint.lower():
        raise AgentError(
            f"the agent at {pairing.target} has another certificate than the one {record.name!r} "
            "was paired with; ask the workspace's owner"
        )
    probe(pairing)
    ref = _store(pairing)
    try:
        with engine.begin() as conn:
            person_id = people.acting_person_id(conn)
            if person_id is None:
                conn.execute(update(Agent).where(Agent.id == record.id).values(key_ref=ref))
            else:
                people.keep_key(conn, person_id, record.id, ref, key_id_of(pairing.api_key))
            audit_log.record(conn, workspace_id, "Paired an agent with an own key", record.name)
            fresh = get_agent(conn, workspace_id, record.id)
    except Exception:
        secrets.delete_key(ref)
        raise
    if record.key_ref:
        secrets.delete_key(record.key_ref)
    return fresh


def move(engine: Engine, workspace_id: int, agent_id: int, host: str, port: int) -> AgentRecord:
    """Point a paired agent at the address it listens on now; its pinned certificate and key
    stay, so only the same agent is reached there."""
    with engine.begin() as conn:
        conn.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.workspace_id == workspace_id)
            .values(host=host, port=port)
        )
        return get_agent(conn, workspace_id, agent_id)


def remove(engine: Engine, workspace_id: int, agent_id: int) -> None:
    """Unpair an agent and forget its key; refused while campaigns still use it, and for a
    role that may not (``Action.MANAGE_AGENTS``)."""
    with engine.begin() as conn:
        people.require(conn, Action.MANAGE_AGENTS)
        record = get_agent(conn, workspace_id, agent_id)
        used = conn.scalar(
            select(func.count()).select_from(CampaignPart).where(CampaignPart.agent_id == agent_id)
        )
        if used:
            raise AgentError(
                f"{record.name} sends parts of campaigns, so it stays; to reach it from this "
                "computer again, pair it with its pairing string"
            )
        conn.execute(delete(Agent).where(Agent.id == agent_id))
    if record.key_ref:
        secrets.delete_key(record.key_ref)


_ALGORITHM_NAMES = {"rsa-sha256": "rsa", "ed25519-sha256": "ed25519"}


@dataclass(frozen=True)
class SendingDomain:
    """One of the agent's sending domains and whether it DKIM-signs mail from it."""

    domain: str
    # None: the agent does not report DKIM (a version before it did).
    signs: bool | None = None
    # (selector, algorithm) of each key the agent loaded, e.g. ("s1", "ed25519-sha256").
    keys: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """``shop.example — DKIM rsa+ed25519 (s1, s2)``, or why it is not signed."""
        if self.signs is None:
            return self.domain
        if not self.signs or not self.keys:
            return f"{self.domain} — no DKIM key"
        names = {_ALGORITHM_NAMES.get(a, a) for _, a in self.keys}
        algorithms = "+".join(sorted(names, key=lambda n: (n != "rsa", n)))
        selectors = ", ".join(sorted({selector for selector, _ in self.keys}))
        return f"{self.domain} — DKIM {algorithms} ({selectors})"

    @property
    def unsigned(self) -> bool:
        """The agent reports it signs nothing for this domain: mail from it fails DKIM."""
        return self.signs is False


@dataclass(frozen=True)
class AgentStatus:
    """What the agents list shows for one agent."""

    agent_id: int
    reachable: bool
    health: str
    version: str = ""
    hostname: str = ""
    queue_depth: int = 0
    finished: int = 0  # delivered + bounced + failed so far: the rate is its change over time
    at: float = 0.0
    error: str = ""
    blocked: bool = False  # the certificate changed: never connect until re-paired
    no_keyring: bool = False  # its key cannot be read: no usable password store (for now)
    # The tenant's sending domains; None when the agent does not report them.
    domains: tuple[SendingDomain, ...] | None = None

    def rate_per_minute(self, before: AgentStatus | None) -> float:
        """Messages finished per minute since ``before`` (0 without a previous sample)."""
        if before is None or not before.reachable or not self.reachable or self.at <= before.at:
            return 0.0
        return max(0, self.finished - before.finished) * 60.0 / (self.at - before.at)


def status(record: AgentRecord) -> AgentStatus:
    """Ask the agent for its health, version and queue (blocking; run it off the GUI thread)."""
    now = time.monotonic()
    if not record.key_ref:
        return AgentStatus(record.id, False, "no key of yours", at=now, error=NO_KEY_OF_YOURS)
    try:
        with stubs(record) as agent:
            health = agent.health.Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT)
            info = agent.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=CALL_TIMEOUT)
            domains = _sending_domains(agent)
    except FingerprintMismatch as exc:
        return AgentStatus(
            record.id, False, "certificate changed", at=now, error=str(exc), blocked=True
        )
    except secrets.KeyringUnavailable as exc:
        return AgentStatus(record.id, False, "no key", at=now, error=str(exc), no_keyring=True)
    except AgentError as exc:
        return AgentStatus(record.id, False, "unreachable", at=now, error=str(exc))
    except grpc.RpcError as exc:
        return AgentStatus(record.id, False, "unreachable", at=now, error=describe_rpc_error(exc))
    q = info.queue
    return AgentStatus(
        record.id,
        True,
        health_pb2.HealthCheckResponse.ServingStatus.Name(health.status).lower(),
        version=info.version,
        hostname=info.hostname,
        queue_depth=q.queued + q.in_flight + q.deferred,
        finished=q.delivered + q.bounced + q.failed,
        at=now,
        domains=domains,
    )


def _sending_domains(agent: AgentStubs) -> tuple[SendingDomain, ...] | None:
    """The caller's sending domains with their DKIM state, or None from an agent without that
    service."""
    try:
        reply = agent.smtp_users.ListSendingDomains(
            smtp_users_pb2.ListSendingDomainsRequest(), timeout=CALL_TIMEOUT
        )
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED):
            return None
        raise
    dkim = {d.domain: d for d in reply.statuses}
    found = []
    for name in reply.domains:
        status = dkim.get(name)
        if status is None:  # an agent that does not report DKIM
            found.append(SendingDomain(name))
        else:
            keys = tuple((k.selector, k.algorithm) for k in status.keys)
            found.append(SendingDomain(name, status.signs, keys))
    return tuple(found)

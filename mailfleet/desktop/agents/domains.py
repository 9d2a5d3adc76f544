"""An agent's sending domains from the desktop: add one, make its DKIM key on the agent, the DNS
records to publish, and the agent's DNS check in plain words. Qt-free and blocking: run it off
the GUI thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from mailfleet.agent.client import AgentClient
from mailfleet.desktop.agents.registry import (
    AgentError,
    AgentRecord,
    SendingDomain,
    describe_rpc_error,
)
from mailfleet.v1 import sending_domains_pb2, smtp_users_pb2

T = TypeVar("T")

# What each verdict status is called on screen.
STATUS_WORDS = {
    sending_domains_pb2.DNS_VERDICT_STATUS_OK: "ok",
    sending_domains_pb2.DNS_VERDICT_STATUS_WARN: "could be better",
    sending_domains_pb2.DNS_VERDICT_STATUS_MISSING: "missing",
    sending_domains_pb2.DNS_VERDICT_STATUS_WRONG: "wrong",
}
_ADMIN_NEEDED = (
    "this agent's pairing key may not manage sending domains; pair it with an admin key "
    "(mailfleet-agent pairing)"
)


@dataclass(frozen=True)
class Record:
    """A DNS record to publish."""

    purpose: str  # "DKIM", "SPF" or "DMARC"
    name: str
    type: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """One record as the agent's DNS check found it."""

    check: str  # "SPF", "DKIM s1", "DMARC", "PTR 203.0.113.5", "MTA-STS"
    status: str  # a word of STATUS_WORDS
    detail: str
    publish: str = ""

    @property
    def ok(self) -> bool:
        """Published and right."""
        return self.status == "ok"

    @property
    def missing_or_wrong(self) -> bool:
        """Receivers will find nothing, or something wrong: worth a warning."""
        return self.status in ("missing", "wrong")

    def describe(self) -> str:
        """``SPF: missing — no SPF record``."""
        return f"{self.check}: {self.status} — {self.detail}"


def _call(record: AgentRecord, ask: Callable[[AgentClient], T]) -> T:
    """``ask`` on a client of ``record``'s agent; a refusal as :class:`AgentError` in words."""
    try:
        with AgentClient(record.pairing()) as client:
            return ask(client)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        details = exc.details() if isinstance(exc, grpc.Call) else ""
        if code == grpc.StatusCode.PERMISSION_DENIED:
            raise AgentError(_ADMIN_NEEDED) from exc
        if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS):
            raise AgentError(details or describe_rpc_error(exc)) from exc
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            # "domain: 'x' is not a domain name": the field is on screen already.
            raise AgentError((details or "").partition(": ")[2] or details) from exc
        raise AgentError(describe_rpc_error(exc)) from exc


def _domains(reply: smtp_users_pb2.ListSendingDomainsResponse) -> list[SendingDomain]:
    states = {s.domain: s for s in reply.statuses}
    found = []
    for name in reply.domains:
        state = states.get(name)
        keys = tuple((k.selector, k.algorithm) for k in state.keys) if state else ()
        found.append(SendingDomain(name, state.signs if state else None, keys))
    return found


def list_domains(record: AgentRecord) -> list[SendingDomain]:
    """The agent's sending domains (of the pairing's tenant), each with its DKIM state."""
    return _call(record, lambda c: _domains(c.sending_domains()))


def add_domain(record: AgentRecord, domain: str) -> list[SendingDomain]:
    """Add ``domain`` (adding it again changes nothing); the domains afterwards."""
    text = domain.strip()
    if not text:
        raise AgentError("type the domain you send from, e.g. shop.example")
    return _call(record, lambda c: _domains(c.add_sending_domain(text)))


def _records(found: Iterable[sending_domains_pb2.DnsRecord]) -> list[Record]:
    return [Record(r.purpose, r.name, r.type, r.value, r.note) for r in found]


def generate_key(record: AgentRecord, domain: str) -> Record:
    """Make a DKIM key for ``domain`` on the agent (its private key stays there); the agent
    signs with it from the next message on. The TXT record to publish."""
    reply = _call(record, lambda c: c.generate_dkim_key(domain))
    return _records([reply.record])[0]


def records(record: AgentRecord, domain: str) -> list[Record]:
    """The records to publish for ``domain``: its DKIM keys, SPF and DMARC."""
    return _call(record, lambda c: _records(c.dns_records(domain)))


def check(record: AgentRecord, domain: str) -> list[Verdict]:
    """What DNS publishes for ``domain`` now, one verdict per record."""
    verdicts = _call(record, lambda c: c.check_dns(domain))
    return [
        Verdict(v.check, STATUS_WORDS.get(v.status, "not known"), v.detail, v.publish)
        for v in verdicts
    ]

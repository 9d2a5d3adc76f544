"""What crosses the pipe between the coordinator and a worker process (pickled)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from mailfleet.agent.model import Content, Sender, Tracking
from mailfleet.agent.routes.base import Outcome
from mailfleet.agent.routing.rules import RoutingTable
from mailfleet.agent.store.suspensions import Holds


@dataclass(frozen=True)
class MessageSpec:
    """What all messages of one campaign (or one transactional message) share."""

    sender: Sender
    content: Content | None  # templates, or None for raw MIME
    raw_mime: bytes | None = None
    route: str = ""  # the route the message asked for (SMTP's X-Mailfleet-Route); "": default
    pool: str = ""  # the IP pool it asked for (SMTP's X-Mailfleet-Pool); "": any
    tenant: str = ""  # the tenant's name, for routing rules
    tags: tuple[str, ...] = ()
    tracking: Tracking = field(default_factory=Tracking)


class Job(NamedTuple):
    """One message to render, sign and deliver once.

    A named tuple: thousands cross the pipe each second, and a tuple pickles smaller and
    builds faster than a frozen dataclass (whose __init__ sets each field through object).
    """

    message_id: int
    spec_key: str  # "c<campaign id>" or "t<content id>"; the spec travels once per worker
    rcpt_to: str
    # mailfleet.agent.model.payload: the recipient's name and merge fields, as stored
    payload: bytes
    field_names: tuple[str, ...]  # names of the payload's positional values
    transactional: bool = False  # sent over the lane's own connections, never queued behind bulk
    tenant_id: int = 0  # named in the message's VERP, unsubscribe and tracking tokens
    campaign_id: int = 0  # 0 for a transactional message
    # A worker once died with it under way: it is sent on its own, one such job at a time, so
    # that a death while sending it is pinned on it alone.
    alone: bool = False


@dataclass
class WorkBatch:
    """Jobs for one worker, with the specs (and routing table, suspensions) it has not been sent
    yet."""

    jobs: list[Job]
    specs: dict[str, MessageSpec] = field(default_factory=dict)
    routing: RoutingTable | None = None
    # The suspensions in force, when they changed since the worker's last batch.
    holds: Holds | None = None
    # Campaign id -> its slot in the shared campaign throttles, for throttled campaigns here.
    throttles: dict[int, int] = field(default_factory=dict)


class Report(NamedTuple):
    """What a worker sends back: outcomes, and the messages it is starting to send (a worker
    that dies before their outcomes died with them under way)."""

    outcomes: list[Outcome]
    delivering: tuple[int, ...] = ()

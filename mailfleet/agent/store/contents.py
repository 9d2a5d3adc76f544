"""What messages without a campaign are made of, one ``contents`` row shared by all the
recipients of a send or a submission: sender, templates or raw MIME, and what the lane asked
for (tags, tracking, SMTP's X-Mailfleet-Route and -Pool)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from mailfleet.agent.model import Content, MessageState, Sender, Tracking


@dataclass(frozen=True)
class MessageContent:
    """One stored content (its ``spec`` JSON and its raw MIME, read back typed)."""

    sender: Sender
    content: Content | None  # templates, or None for raw MIME (or once retention cleared it)
    raw_mime: bytes | None = None
    tags: tuple[str, ...] = ()
    tracking: Tracking = field(default_factory=Tracking)
    route: str = ""  # the route the message asked for; "": the default
    pool: str = ""  # the IP pool it asked for; "": any
    source: str = ""  # "smtp" for the SMTP intake, "" for the gRPC API
    smtp_user: str = ""
    campaign: str = ""  # the campaign name an SMTP submission gave itself


def _spec(c: MessageContent) -> str:
    return json.dumps(
        {
            "sender": asdict(c.sender),
            "content": asdict(c.content) if c.content else None,
            "tags": list(c.tags),
            "tracking": asdict(c.tracking),
            "source": c.source,
            "smtp_user": c.smtp_user,
            "route": c.route,
            "campaign": c.campaign,
            "pool": c.pool,
        }
    )


def _content(text: str, raw_mime: bytes | None) -> MessageContent:
    # Rows written before a key existed lack it: each has its default.
    data: dict[str, Any] = json.loads(text)
    return MessageContent(
        Sender(**data["sender"]),
        Content(**data["content"]) if data.get("content") else None,
        raw_mime,
        tuple(data.get("tags", ())),
        Tracking(**data["tracking"]) if "tracking" in data else Tracking(),
        str(data.get("route", "")),
        str(data.get("pool", "")),
        str(data.get("source", "")),
        str(data.get("smtp_user", "")),
        str(data.get("campaign", "")),
    )


def insert(conn: sqlite3.Connection, content: MessageContent) -> int:
    """Store a content; return its id."""
    cur = conn.execute(
        "INSERT INTO contents (spec, raw_mime) VALUES (?, ?)", (_spec(content), content.raw_mime)
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def get(conn: sqlite3.Connection, content_id: int) -> MessageContent:
    """A stored content."""
    spec, raw = conn.execute(
        "SELECT spec, raw_mime FROM contents WHERE id = ?", (content_id,)
    ).fetchone()
    return _content(str(spec), raw)


class Requested(NamedTuple):
    """Destinations that messages still to be sent asked for themselves."""

    routes: set[str]  # X-Mailfleet-Route
    pools: set[str]  # X-Mailfleet-Pool


def requested_destinations(conn: sqlite3.Connection) -> Requested:
    """The routes and IP pools that messages still to be sent asked for themselves."""
    rows = conn.execute(
        "SELECT DISTINCT json_extract(c.spec, '$.route'), json_extract(c.spec, '$.pool')"
        " FROM messages m JOIN contents c ON c.id = m.content_id"
        " WHERE m.campaign_id IS NULL AND m.state IN (?, ?, ?)",
        (int(MessageState.QUEUED), int(MessageState.IN_FLIGHT), int(MessageState.DEFERRED)),
    )
    found = Requested(set(), set())
    for route, pool in rows:
        if route:
            found.routes.add(str(route))
        if pool:
            found.pools.add(str(pool))
    return found

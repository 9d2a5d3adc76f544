"""The team's audit log in the workspace's database: who did what, when and from where.

Two sources meet here: the desktops' own changes (``record``: the acting person, the desktop
computer's name) and the agents' audit entries, copied by cursor (``add_agent_entries``: the
key's person, the caller's address as the agent saw it). The screen filters them and exports
them as CSV (``export``).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select

from mailfleet.desktop.db.models import Agent, AuditEntry, Person, PersonAgentKey
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import cursors, people
from mailfleet.desktop.services.export import write_csv

DESKTOP = "desktop"


def this_computer() -> str:
    """The desktop computer's name, the "from where" of its own entries."""
    return socket.gethostname() or "this computer"


def record(
    conn: Connection,
    workspace_id: int,
    action: str,
    summary: str = "",
    outcome: str = "ok",
    person: str | None = None,
) -> None:
    """Log one change the desktop made, for ``person`` or else the person the connection acts
    for."""
    seat = people.seat_of(conn)
    if person is None:
        person = seat.person.name if seat is not None and seat.person is not None else ""
    origin = seat.origin if seat is not None and seat.origin else this_computer()
    conn.execute(
        insert(AuditEntry).values(
            workspace_id=workspace_id,
            at=utcnow(),
            person=person[:200],
            origin=origin[:255],
            action=action[:200],
            summary=summary[:300],
            outcome=outcome[:60],
        )
    )


@dataclass(frozen=True)
class AgentEntry:
    """One entry of an agent's audit log (``Admin.ListAuditEntries``)."""

    seq: int
    at: datetime
    key_id: str
    person: str
    peer: str
    action: str
    summary: str
    outcome: str


def add_agent_entries(
    conn: Connection,
    workspace_id: int,
    agent_id: int,
    entries: Sequence[AgentEntry],
    next_cursor: int,
) -> int:
    """Copy an agent's entries after its audit cursor and move the cursor, under a lock on the
    agent's row (two desktops collecting at once copy each entry once); returns how many.

    An entry whose key has no person named on the agent (the pairing key ``init`` made) is
    put down to the teammate who keeps that key here, when one does."""
    cursor, fresh, target = cursors.claim(
        conn, Agent.audit_cursor, workspace_id, agent_id, entries, next_cursor
    )
    held = conn.execute(
        select(PersonAgentKey.key_id, Person.name)
        .join(Person, Person.id == PersonAgentKey.person_id)
        .where(PersonAgentKey.agent_id == agent_id, PersonAgentKey.key_id != "")
    )
    holders = {key_id: name for key_id, name in held}
    if fresh:
        conn.execute(
            insert(AuditEntry),
            [
                {
                    "workspace_id": workspace_id,
                    "at": e.at,
                    "person": (e.person or holders.get(e.key_id, ""))[:200],
                    "key_id": e.key_id[:64],
                    "agent_id": agent_id,
                    "agent_entry_id": e.seq,
                    "origin": e.peer[:255],
                    "action": e.action[:200],
                    "summary": e.summary[:300],
                    "outcome": e.outcome[:60],
                }
                for e in fresh
            ],
        )
    cursors.move(conn, Agent.audit_cursor, agent_id, cursor, target)
    return len(fresh)


@dataclass(frozen=True)
class Filter:
    """What the audit screen asks for: every field empty shows everything."""

    person: str = ""
    # "desktop", an agent's name, or "" for every source.
    source: str = ""
    text: str = ""
    since: datetime | None = None


@dataclass(frozen=True)
class Row:
    """One entry as the screen and the export show it."""

    at: datetime
    person: str
    source: str
    origin: str
    action: str
    summary: str
    outcome: str


HEADER = ("time (UTC)", "person", "where", "from", "action", "details", "outcome")
LIMIT = 2000


def entries(conn: Connection, workspace_id: int, wanted: Filter, limit: int = LIMIT) -> list[Row]:
    """The newest entries that match ``wanted``, newest first."""
    source = Agent.name
    query = (
        select(
            AuditEntry.at,
            AuditEntry.person,
            source,
            AuditEntry.origin,
            AuditEntry.action,
            AuditEntry.summary,
            AuditEntry.outcome,
        )
        .outerjoin(Agent, Agent.id == AuditEntry.agent_id)
        .where(AuditEntry.workspace_id == workspace_id)
    )
    if wanted.person:
        query = query.where(AuditEntry.person == wanted.person)
    if wanted.source == DESKTOP:
        query = query.where(AuditEntry.agent_entry_id.is_(None))
    elif wanted.source:
        query = query.where(Agent.name == wanted.source)
    if wanted.text:
        pattern = f"%{wanted.text}%"
        query = query.where(AuditEntry.action.ilike(pattern) | AuditEntry.summary.ilike(pattern))
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    rows = conn.execute(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return [
        Row(at, person, name or DESKTOP, origin, action, summary, outcome)
        for at, person, name, origin, action, summary, outcome in rows
    ]


def people_in_log(conn: Connection, workspace_id: int) -> list[str]:
    """Every person the log names, for the screen's filter."""
    found = conn.scalars(
        select(AuditEntry.person)
        .where(AuditEntry.workspace_id == workspace_id, AuditEntry.person != "")
        .distinct()
    )
    return sorted(found)


def export(rows: Sequence[Row], path: Path) -> int:
    """Write ``rows`` as CSV (cells a spreadsheet would run as formulas neutralised)."""
    return write_csv(
        path,
        HEADER,
        (
            (
                r.at.strftime("%Y-%m-%d %H:%M:%S"),
                r.person,
                r.source,
                r.origin,
                r.action,
                r.summary,
                r.outcome,
            )
            for r in rows
        ),
    )

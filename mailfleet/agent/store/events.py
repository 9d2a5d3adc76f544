"""The append-only events log."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from mailfleet.agent.model import Event, EventType

_COLUMNS = "tenant_id, time, type, campaign_id, message_id, email, attrs"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_READ = f"seq, {_COLUMNS}"


class NewEvent(NamedTuple):
    """An event to append; the store gives it its seq."""

    tenant_id: int
    type: EventType
    campaign_id: int | None = None
    message_id: int | None = None
    email: str = ""
    attrs: dict[str, str] | None = None


def _row(e: NewEvent, now: float) -> tuple[object, ...]:
    attrs = json.dumps(e.attrs) if e.attrs else None
    return (e.tenant_id, now, int(e.type), e.campaign_id, e.message_id, e.email, attrs)


def append(
    conn: sqlite3.Connection,
    tenant_id: int,
    type_: EventType,
    *,
    campaign_id: int | None = None,
    message_id: int | None = None,
    email: str = "",
    attrs: dict[str, str] | None = None,
    now: float | None = None,
) -> int:
    """Append one event inside the caller's transaction; return its sequence number."""
    event = NewEvent(tenant_id, type_, campaign_id, message_id, email, attrs)
    cur = conn.execute(_INSERT, _row(event, time.time() if now is None else now))
    assert cur.lastrowid is not None
    return cur.lastrowid


def append_many(conn: sqlite3.Connection, entries: Iterable[NewEvent], now: float) -> None:
    """Append events inside the caller's transaction, in order, all at time ``now``."""
    conn.executemany(_INSERT, [_row(e, now) for e in entries])


def append_for_messages(
    conn: sqlite3.Connection,
    type_: EventType,
    after_id: int,
    attrs: dict[str, str] | None,
    now: float,
) -> None:
    """Append one event for each message with id > ``after_id`` (the ones the caller's
    transaction just inserted), in id order: one statement, however many there are."""
    conn.execute(
        f"INSERT INTO events ({_COLUMNS})"
        " SELECT tenant_id, ?, ?, campaign_id, id, email, ? FROM messages WHERE id > ?"
        " ORDER BY id",
        (now, int(type_), json.dumps(attrs) if attrs else None, after_id),
    )


def list_after(conn: sqlite3.Connection, tenant_id: int, after_seq: int, limit: int) -> list[Event]:
    """The tenant's events with seq > after_seq, oldest first."""
    rows = conn.execute(
        f"SELECT {_READ} FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (tenant_id, after_seq, limit),
    )
    return _events(rows)


def list_range(
    conn: sqlite3.Connection,
    tenant_id: int,
    after_seq: int,
    through_seq: int,
    types: Sequence[EventType],
    limit: int,
) -> list[Event]:
    """The tenant's events with after_seq < seq <= through_seq of ``types`` (every type when
    empty), oldest first."""
    of_type = f" AND type IN ({', '.join('?' * len(types))})" if types else ""
    rows = conn.execute(
        f"SELECT {_READ} FROM events WHERE tenant_id = ? AND seq > ? AND seq <= ?{of_type}"
        " ORDER BY seq LIMIT ?",
        (tenant_id, after_seq, through_seq, *(int(t) for t in types), limit),
    )
    return _events(rows)


def _events(rows: Iterable[tuple[Any, ...]]) -> list[Event]:
    return [
        Event(seq, tid, t, EventType(ty), cid, mid, email, json.loads(attrs) if attrs else {})
        for seq, tid, t, ty, cid, mid, email, attrs in rows
    ]


def last_seq(conn: sqlite3.Connection) -> int:
    """The newest sequence number of the agent, 0 when the log is empty."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0


def first_seq_since(conn: sqlite3.Connection, since: float) -> int:
    """The first event seq at or after ``since``: a binary search over seq, since events are
    appended in time order (no index on time needed)."""
    low, high = 1, int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    first = high + 1
    while low <= high:
        mid = (low + high) // 2
        row = conn.execute(
            "SELECT seq, time FROM events WHERE seq >= ? ORDER BY seq LIMIT 1", (mid,)
        )
        found = row.fetchone()
        if found is None or found[1] >= since:
            first = found[0] if found else first
            high = mid - 1
        else:
            low = found[0] + 1
    return first


def counts_since(conn: sqlite3.Connection, since: float) -> dict[EventType, int]:
    """Events of every tenant appended since ``since``, by type (types without any absent)."""
    rows = conn.execute(
        "SELECT type, count(*) FROM events WHERE seq >= ? GROUP BY type",
        (first_seq_since(conn, since),),
    )
    return {EventType(type_): int(n) for type_, n in rows}

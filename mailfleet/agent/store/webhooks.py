"""Event webhook endpoints: their settings, their cursor in the events log, their failures.

The events log is the queue: an endpoint keeps the seq through which it has its events
(``after_seq``) and, while a POST is under way or failing, the batch it is sending
(``batch_through``), so a retry, even after a restart or a crash, sends the same events under
the same id until the endpoint takes them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mailfleet.agent.errors import NotFound
from mailfleet.agent.model import Event, EventType
from mailfleet.agent.store import events

_COLUMNS = (
    "id, tenant_id, url, event_types, description, secret, enabled, after_seq, batch_through,"
    " attempts, next_at, failing_since, last_error, disabled_reason, delivered, created_at,"
    " updated_at"
)
# How far a backlog is counted: past this, "at least" is all a person needs to know.
BACKLOG_CAP = 100_000


@dataclass(frozen=True)
class Endpoint:
    """One tenant's webhook endpoint and where its delivery stands."""

    id: int
    tenant_id: int
    url: str
    event_types: tuple[EventType, ...]  # () for every type
    description: str
    secret: str
    enabled: bool
    after_seq: int
    batch_through: int | None
    attempts: int  # failed tries of the batch under way
    next_at: float | None  # when it is tried again after a failure
    failing_since: float | None
    last_error: str
    disabled_reason: str
    delivered: int  # events delivered since it was created
    created_at: float
    updated_at: float


def _types_text(types: Sequence[EventType]) -> str:
    return ",".join(str(int(t)) for t in sorted(set(types)))


def _endpoint(row: tuple[Any, ...]) -> Endpoint:
    (id_, tenant, url, types, desc, secret, enabled, after, through, attempts, next_at,
     failing, error, disabled, delivered, created, updated) = row  # fmt: skip
    return Endpoint(
        id_,
        tenant,
        url,
        tuple(EventType(int(t)) for t in types.split(",") if t),
        desc,
        secret,
        bool(enabled),
        after,
        through,
        attempts,
        next_at,
        failing,
        error,
        disabled,
        delivered,
        created,
        updated,
    )


def create(
    conn: sqlite3.Connection,
    tenant_id: int,
    url: str,
    types: Sequence[EventType],
    description: str,
    secret: str,
    now: float,
) -> Endpoint:
    """A new endpoint that gets the events appended from now on."""
    cur = conn.execute(
        "INSERT INTO webhook_endpoints (tenant_id, url, event_types, description, secret,"
        " enabled, after_seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
        (tenant_id, url, _types_text(types), description, secret, events.last_seq(conn), now, now),
    )
    assert cur.lastrowid is not None
    return get(conn, tenant_id, cur.lastrowid)


def get(conn: sqlite3.Connection, tenant_id: int, endpoint_id: int) -> Endpoint:
    """The tenant's endpoint; :class:`NotFound` for another tenant's or a deleted one."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = ? AND tenant_id = ?",
        (endpoint_id, tenant_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"there is no webhook {endpoint_id}")
    return _endpoint(row)


def list_for_tenant(conn: sqlite3.Connection, tenant_id: int) -> list[Endpoint]:
    """The tenant's endpoints, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id", (tenant_id,)
    )
    return [_endpoint(r) for r in rows]


def update(
    conn: sqlite3.Connection,
    tenant_id: int,
    endpoint_id: int,
    now: float,
    *,
    url: str | None = None,
    types: Sequence[EventType] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> Endpoint:
    """Change what is given. A new URL or filter starts the batch under way afresh; enabling
    a disabled endpoint clears its failure and resumes from its cursor."""
    before = get(conn, tenant_id, endpoint_id)
    changes: dict[str, object] = {"updated_at": now}
    if url is not None:
        changes["url"] = url
    if types is not None:
        changes["event_types"] = _types_text(types)
    if description is not None:
        changes["description"] = description
    if url is not None or types is not None:
        changes.update(batch_through=None, attempts=0, next_at=None)
    if enabled is not None:
        changes["enabled"] = int(enabled)
    if enabled and not before.enabled:
        changes.update(attempts=0, next_at=None, failing_since=None, disabled_reason="")
    assignments = ", ".join(f"{name} = ?" for name in changes)
    conn.execute(
        f"UPDATE webhook_endpoints SET {assignments} WHERE id = ?",
        (*changes.values(), endpoint_id),
    )
    return get(conn, tenant_id, endpoint_id)


def delete(conn: sqlite3.Connection, tenant_id: int, endpoint_id: int) -> None:
    """Delete the tenant's endpoint and what it had still to deliver."""
    cur = conn.execute(
        "DELETE FROM webhook_endpoints WHERE id = ? AND tenant_id = ?", (endpoint_id, tenant_id)
    )
    if cur.rowcount == 0:
        raise NotFound(f"there is no webhook {endpoint_id}")


def due(conn: sqlite3.Connection, now: float) -> tuple[list[Endpoint], float | None]:
    """Enabled endpoints that have events to send and are not waiting to retry, and when the
    first one that is waiting may try again (None when none waits)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_endpoints w WHERE enabled = 1"
        " AND (next_at IS NULL OR next_at <= ?)"
        " AND (batch_through IS NOT NULL OR EXISTS (SELECT 1 FROM events e"
        " WHERE e.tenant_id = w.tenant_id AND e.seq > w.after_seq)) ORDER BY id",
        (now,),
    )
    found = [_endpoint(r) for r in rows]
    (retry_at,) = conn.execute(
        "SELECT min(next_at) FROM webhook_endpoints WHERE enabled = 1 AND next_at > ?", (now,)
    ).fetchone()
    return found, None if retry_at is None else float(retry_at)


def pending(conn: sqlite3.Connection, endpoint: Endpoint, limit: int) -> tuple[list[Event], int]:
    """The endpoint's next batch and the seq it runs through: the batch under way if there is
    one, else up to ``limit`` events of its types after its cursor (through the newest event
    when there are fewer, so events of other types are passed over)."""
    if endpoint.batch_through is not None:
        through = endpoint.batch_through
    else:
        through = events.last_seq(conn)
    found = events.list_range(
        conn, endpoint.tenant_id, endpoint.after_seq, through, endpoint.event_types, limit
    )
    if endpoint.batch_through is None and len(found) == limit:
        through = found[-1].seq
    return found, through


def begin(conn: sqlite3.Connection, endpoint: Endpoint, through: int) -> None:
    """Record the batch under way before it is sent, so every try sends the same one."""
    conn.execute(
        "UPDATE webhook_endpoints SET batch_through = ? WHERE id = ? AND after_seq = ?",
        (through, endpoint.id, endpoint.after_seq),
    )


def delivered(
    conn: sqlite3.Connection, endpoint: Endpoint, through: int, count: int, now: float
) -> None:
    """The endpoint took the batch (or there was nothing of its types): move its cursor."""
    conn.execute(
        "UPDATE webhook_endpoints SET after_seq = ?, batch_through = NULL, attempts = 0,"
        " next_at = NULL, failing_since = NULL, last_error = '', delivered = delivered + ?,"
        " updated_at = ?"
        " WHERE id = ? AND after_seq = ?",
        (through, count, now, endpoint.id, endpoint.after_seq),
    )


def failed(
    conn: sqlite3.Connection,
    endpoint: Endpoint,
    error: str,
    now: float,
    retry_at: float,
    give_up_seconds: float,
) -> str:
    """Record a failed try; disable the endpoint once it has failed for ``give_up_seconds``.
    Returns the reason it was disabled, '' while it is still retried."""
    since = endpoint.failing_since if endpoint.failing_since is not None else now
    reason = ""
    if now - since >= give_up_seconds:
        reason = f"disabled after failing for {_duration(now - since)}; the last try: {error}"
    conn.execute(
        "UPDATE webhook_endpoints SET attempts = attempts + 1, next_at = ?, failing_since = ?,"
        " last_error = ?, enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?",
        (retry_at, since, error, 0 if reason else 1, reason, now, endpoint.id),
    )
    return reason


def _duration(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return "1 second" if round(seconds) == 1 else f"{seconds:.0f} seconds"


def backlog(conn: sqlite3.Connection, endpoint: Endpoint) -> int:
    """Events of the endpoint's types it has still to get (counted up to ``BACKLOG_CAP``)."""
    of_type = ""
    if endpoint.event_types:
        of_type = f" AND type IN ({', '.join('?' * len(endpoint.event_types))})"
    (count,) = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM events WHERE tenant_id = ? AND seq > ?"
        f"{of_type} LIMIT ?)",
        (endpoint.tenant_id, endpoint.after_seq, *map(int, endpoint.event_types), BACKLOG_CAP),
    ).fetchone()
    return int(count)


def total_backlog(conn: sqlite3.Connection) -> int:
    """Events every endpoint, enabled or not, has still to get, added up (for the metrics)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM webhook_endpoints")
    return sum(backlog(conn, _endpoint(r)) for r in rows.fetchall())

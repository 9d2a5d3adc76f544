"""Queue tools for operators: list and count waiting mail, retry it now, delete it, bounce it.

Waiting mail is queued or deferred; mail in flight is listed but never changed (its worker owns
it until it settles). Every action works on one batch of at most ``limit`` messages in the
caller's transaction and returns how many it changed, so a caller acting on a large selection
commits it in small transactions (one batch each) and never holds the writer long.

Deleting and bouncing are final and leave an event per message, so the desktop and the event
stream see them like any other outcome. A bounce by hand does not feed the suppression list: an
operator's decision about queued mail is not evidence that the address is bad.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import events
from mailfleet.agent.store.events import NewEvent

_QUEUED = int(MessageState.QUEUED)
_IN_FLIGHT = int(MessageState.IN_FLIGHT)
_DEFERRED = int(MessageState.DEFERRED)
_WAITING = f"state IN ({_QUEUED}, {_DEFERRED})"
_LISTED = f"state IN ({_QUEUED}, {_IN_FLIGHT}, {_DEFERRED})"
_COLUMNS = (
    "id, tenant_id, campaign_id, email, state, attempts, created_at, next_at, last_reply,"
    " last_host, last_route"
)
# Why a deleted message's event says it ended, for whoever reads the event stream.
DELETED_REASON = "deleted from the queue by an operator"


@dataclass(frozen=True)
class Selection:
    """Which messages a queue tool acts on; every given criterion must hold."""

    tenant_id: int | None  # None: every tenant (the agent's own administrator)
    domain: str = ""  # the recipient's domain, any case; '' for every domain
    campaign_id: int | None = None
    transactional_only: bool = False  # only messages of no campaign
    min_age: float = 0.0  # seconds since the message was queued
    route: str = ""  # only messages last tried on (or held for) this route; '' for any
    ids: tuple[int, ...] = ()  # only these messages; () for any


@dataclass(frozen=True)
class QueuedMessage:
    """A message still waiting for delivery, or under way."""

    id: int
    tenant_id: int
    campaign_id: int | None
    email: str
    state: MessageState
    attempts: int
    created_at: float
    next_at: float | None  # when a deferred message is tried again
    last_reply: str  # the last answer it got, '' before its first try
    last_host: str  # the host that gave it
    route: str  # the route it was last tried on (or held for), '' before its first try


@dataclass
class Count:
    """Waiting mail of one recipient domain, or of one route."""

    name: str  # the domain, or the route ('' for mail not tried yet)
    queued: int = 0
    deferred: int = 0
    in_flight: int = 0
    oldest_created_at: float = float("inf")

    @property
    def total(self) -> int:
        """Every message counted."""
        return self.queued + self.deferred + self.in_flight

    def add(self, queued: int, deferred: int, in_flight: int, oldest: float) -> None:
        """Count one more group of messages in."""
        self.queued += queued
        self.deferred += deferred
        self.in_flight += in_flight
        self.oldest_created_at = min(self.oldest_created_at, oldest)


@dataclass(frozen=True)
class Summary:
    """Waiting mail counted by recipient domain and by route, most first, and in all."""

    domains: list[Count]
    routes: list[Count]
    total: Count


def _like_domain(domain: str) -> str:
    escaped = domain.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%@" + escaped


def _where(
    sel: Selection, now: float, states: str, states_params: Sequence[object] = ()
) -> tuple[str, list[object]]:
    clauses = [states]
    params: list[object] = list(states_params)
    if sel.tenant_id is not None:
        clauses.append("tenant_id = ?")
        params.append(sel.tenant_id)
    if sel.domain:
        clauses.append("email_norm LIKE ? ESCAPE '\\'")
        params.append(_like_domain(sel.domain))
    if sel.campaign_id is not None:
        clauses.append("campaign_id = ?")
        params.append(sel.campaign_id)
    elif sel.transactional_only:
        clauses.append("campaign_id IS NULL")
    if sel.route:
        clauses.append("last_route = ?")
        params.append(sel.route)
    if sel.min_age > 0:
        clauses.append("created_at <= ?")
        params.append(now - sel.min_age)
    if sel.ids:
        clauses.append(f"id IN ({', '.join('?' * len(sel.ids))})")
        params.extend(sel.ids)
    return " AND ".join(clauses), params


def list_waiting(
    conn: sqlite3.Connection, sel: Selection, now: float, after_id: int, limit: int
) -> list[QueuedMessage]:
    """Queued, deferred and in-flight messages of the selection, keyset-paged by id."""
    where, params = _where(sel, now, _LISTED)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM messages WHERE {where} AND id > ? ORDER BY id LIMIT ?",
        [*params, after_id, limit],
    ).fetchall()
    return [
        QueuedMessage(
            mid, tid, cid, email, MessageState(state), att, created, nxt, reply, host, route
        )
        for mid, tid, cid, email, state, att, created, nxt, reply, host, route in rows
    ]


def _most_first(counts: dict[str, Count]) -> list[Count]:
    return sorted(counts.values(), key=lambda c: (-c.total, c.name))


def summary(conn: sqlite3.Connection, sel: Selection, now: float) -> Summary:
    """Waiting and in-flight mail of the selection by recipient domain and by route."""
    where, params = _where(sel, now, _LISTED)
    rows = conn.execute(
        "SELECT lower(substr(email_norm, instr(email_norm, '@') + 1)) AS domain, last_route,"
        f" sum(state = {_QUEUED}), sum(state = {_DEFERRED}), sum(state = {_IN_FLIGHT}),"
        f" min(created_at) FROM messages WHERE {where} GROUP BY domain, last_route",
        params,
    ).fetchall()
    domains: dict[str, Count] = {}
    routes: dict[str, Count] = {}
    total = Count("")
    for domain, route, *figures in rows:
        counts = (int(figures[0]), int(figures[1]), int(figures[2]), float(figures[3]))
        domains.setdefault(domain, Count(domain)).add(*counts)
        routes.setdefault(route, Count(route)).add(*counts)
        total.add(*counts)
    return Summary(_most_first(domains), _most_first(routes), total)


_Row = tuple[int, int, int | None, str]


def _batch(
    conn: sqlite3.Connection,
    sel: Selection,
    now: float,
    states: str,
    limit: int,
    states_params: Sequence[object] = (),
) -> list[_Row]:
    where, params = _where(sel, now, states, states_params)
    return conn.execute(
        f"SELECT id, tenant_id, campaign_id, email FROM messages WHERE {where} ORDER BY id LIMIT ?",
        [*params, limit],
    ).fetchall()


def retry_now(conn: sqlite3.Connection, sel: Selection, now: float, limit: int) -> int:
    """Make up to ``limit`` deferred messages of the selection due now; return how many."""
    # Only those not yet due, so the next batch does not count again what this one made due.
    rows = _batch(conn, sel, now, f"state = {_DEFERRED} AND next_at > ?", limit, [now])
    conn.executemany(
        f"UPDATE messages SET next_at = ?, updated_at = ? WHERE id = ? AND state = {_DEFERRED}",
        [(now, now, r[0]) for r in rows],
    )
    return len(rows)


def _finish(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[int, int, int | None, str]],
    state: MessageState,
    event: EventType,
    reason: str,
    now: float,
) -> int:
    conn.executemany(
        "UPDATE messages SET state = ?, last_reply = ?, next_at = NULL, updated_at = ?"
        f" WHERE id = ? AND {_WAITING}",
        [(int(state), reason, now, r[0]) for r in rows],
    )
    events.append_many(
        conn,
        (
            NewEvent(tid, event, cid, mid, email, {"reply": reason, "by": "operator"})
            for mid, tid, cid, email in rows
        ),
        now,
    )
    return len(rows)


def delete(conn: sqlite3.Connection, sel: Selection, now: float, limit: int) -> int:
    """Cancel up to ``limit`` waiting messages of the selection, with an event each."""
    rows = _batch(conn, sel, now, _WAITING, limit)
    return _finish(
        conn, rows, MessageState.CANCELLED, EventType.MESSAGE_CANCELLED, DELETED_REASON, now
    )


def bounce(conn: sqlite3.Connection, sel: Selection, reason: str, now: float, limit: int) -> int:
    """Bounce up to ``limit`` waiting messages of the selection with ``reason``, an event each."""
    rows = _batch(conn, sel, now, _WAITING, limit)
    return _finish(conn, rows, MessageState.BOUNCED, EventType.MESSAGE_BOUNCED, reason, now)

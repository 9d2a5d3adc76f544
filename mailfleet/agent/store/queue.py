"""The delivery queue: claiming due messages under a lease, settling their outcomes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from mailfleet.agent.model import CampaignState, EventType, MessageState
from mailfleet.agent.store import capture, events
from mailfleet.agent.store.capture import NewCapture
from mailfleet.agent.store.events import NewEvent
from mailfleet.agent.store.suspensions import Holds

_CLAIM_COLUMNS = (
    "id, tenant_id, campaign_id, content_id, email, payload, field_set_id, attempts, created_at,"
    " strikes, variant"
)
# States written into the SQL text rather than bound: the planner then knows at prepare time
# that a query matches a partial index (messages_deferred, messages_leased) and never has to
# prepare the statement again for the values bound to it.
_QUEUED = int(MessageState.QUEUED)
_IN_FLIGHT = int(MessageState.IN_FLIGHT)
_DEFERRED = int(MessageState.DEFERRED)
_SET_LEASE = (
    f"UPDATE messages SET state = {_IN_FLIGHT}, lease_until = ?, attempts = attempts + 1,"
    " updated_at = ?"
)


@dataclass(frozen=True)
class Claimed:
    """A message leased to the scheduler for one try."""

    id: int
    tenant_id: int
    campaign_id: int | None
    content_id: int | None
    email: str
    payload: bytes  # mailfleet.agent.model.payload: the recipient's name and merge fields
    field_set_id: int | None
    attempts: int  # including this try
    created_at: float
    strikes: int = 0  # times in a row a worker died with it under way (building or sending it)
    variant: int | None = None  # the A/B test's variant of its test share; None: the campaign's


@dataclass(frozen=True)
class Settled:
    """What one try ended in, as the store records it."""

    message: Claimed
    state: MessageState
    event: EventType
    reply: str = ""
    host: str = ""
    next_at: float | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    captured: bytes | None = None  # the message as sent, for the capture mailbox
    mail_from: str = ""  # its envelope sender
    strikes: int = 0  # kept with the message: 0 once a try has an answer
    route: str = ""  # the route it was tried on (or held for)


def _claimed(
    rows: list[
        tuple[int, int, int | None, int | None, str, bytes, int | None, int, float, int, int | None]
    ],
) -> list[Claimed]:
    return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)


def reset_leases(conn: sqlite3.Connection, now: float, *, every: bool = False) -> int:
    """Return expired leases (or, at start-up, every lease) to the queue."""
    cur = conn.execute(
        f"UPDATE messages SET state = {_QUEUED}, lease_until = NULL, updated_at = ?"
        f" WHERE state = {_IN_FLIGHT} AND (? OR lease_until < ?)",
        (now, every, now),
    )
    return cur.rowcount


def requeue(conn: sqlite3.Connection, messages: Sequence[tuple[int, int]], now: float) -> None:
    """Return leased messages to the queue (their worker died before answering), each
    ``(id, strikes)`` with the strikes it has now."""
    conn.executemany(
        f"UPDATE messages SET state = {_QUEUED}, lease_until = NULL, strikes = ?, updated_at = ?"
        f" WHERE id = ? AND state = {_IN_FLIGHT}",
        [(strikes, now, mid) for mid, strikes in messages],
    )


_NOTHING_HELD = Holds()


def claim_transactional(
    conn: sqlite3.Connection,
    limit: int,
    now: float,
    lease_until: float,
    holds: Holds = _NOTHING_HELD,
) -> list[Claimed]:
    """Lease the oldest queued transactional messages (not of a suspended destination)."""
    held, params = holds.sql()
    rows = conn.execute(
        f"{_SET_LEASE} WHERE id IN (SELECT id FROM messages WHERE campaign_id IS NULL"
        f" AND state = {_QUEUED}{held} ORDER BY id LIMIT ?) RETURNING {_CLAIM_COLUMNS}",
        (lease_until, now, *params, limit),
    ).fetchall()
    return _claimed(rows)


def claim_deferred(
    conn: sqlite3.Connection,
    limit: int,
    now: float,
    lease_until: float,
    holds: Holds = _NOTHING_HELD,
) -> list[Claimed]:
    """Lease deferred messages whose next try is due (not of paused or cancelled campaigns,
    nor of a suspended destination, nor last held for a suspended route)."""
    held, params = holds.sql("m", routes=True)
    rows = conn.execute(
        f"{_SET_LEASE} WHERE id IN (SELECT m.id FROM messages AS m"
        " LEFT JOIN campaigns AS c ON c.id = m.campaign_id"
        f" WHERE m.state = {_DEFERRED} AND m.next_at <= ?"
        f" AND (m.campaign_id IS NULL OR c.state = ?){held}"
        " ORDER BY m.campaign_id IS NOT NULL, m.next_at LIMIT ?)"
        f" RETURNING {_CLAIM_COLUMNS}",
        (lease_until, now, now, int(CampaignState.RUNNING), *params, limit),
    ).fetchall()
    return _claimed(rows)


def claim_campaign(
    conn: sqlite3.Connection,
    campaign_id: int,
    limit: int,
    now: float,
    lease_until: float,
    holds: Holds = _NOTHING_HELD,
    *,
    sample_only: bool = False,
) -> list[Claimed]:
    """Lease a running campaign's next queued messages, in upload order (not of a suspended
    destination); ``sample_only``: only its A/B test share, while the rest waits for the
    winner (by the share's partial index, so the waiting rows are never scanned)."""
    held, params = holds.sql()
    sample = " AND ab_sample = 1" if sample_only else ""
    rows = conn.execute(
        f"{_SET_LEASE} WHERE id IN (SELECT id FROM messages WHERE campaign_id = ?"
        f" AND state = {_QUEUED}{sample}{held} ORDER BY id LIMIT ?)"
        " AND (SELECT state FROM campaigns WHERE id = ?) = ?"
        f" RETURNING {_CLAIM_COLUMNS}",
        (lease_until, now, campaign_id, *params, limit, campaign_id, int(CampaignState.RUNNING)),
    ).fetchall()
    return _claimed(rows)


class Runnable(NamedTuple):
    """A running campaign whose start time has come."""

    id: int
    per_minute: int  # its throttle, 0 for none
    sample_only: bool = False  # an A/B test without a winner: only its test share is sent
    windowed: bool = False  # it has a send window, which the scheduler checks


def runnable_campaigns(conn: sqlite3.Connection, now: float) -> list[Runnable]:
    """Running campaigns whose start time has come, oldest first."""
    rows = conn.execute(
        "SELECT c.id, c.throttle_per_minute, t.campaign_id IS NOT NULL AND t.winner IS NULL,"
        " json_extract(c.spec, '$.send_window') IS NOT NULL FROM campaigns AS c"
        " LEFT JOIN ab_tests AS t ON t.campaign_id = c.id WHERE c.state = ?"
        " AND (c.start_at IS NULL OR c.start_at <= ?) ORDER BY c.id",
        (int(CampaignState.RUNNING), now),
    )
    return [
        Runnable(cid, per_minute, bool(sample), bool(windowed))
        for cid, per_minute, sample, windowed in rows
    ]


def field_names(conn: sqlite3.Connection, field_set_id: int) -> tuple[str, ...]:
    """The merge field names of an upload's positional values."""
    row = conn.execute("SELECT names FROM field_sets WHERE id = ?", (field_set_id,)).fetchone()
    return tuple(json.loads(row[0])) if row else ()


def _event(r: Settled) -> NewEvent:
    m = r.message
    return NewEvent(m.tenant_id, r.event, m.campaign_id, m.id, m.email, r.attrs)


def settle(conn: sqlite3.Connection, results: Sequence[Settled], now: float) -> None:
    """Record outcomes, their events and captured messages in the caller's transaction."""
    conn.executemany(
        "UPDATE messages SET state = ?, last_reply = ?, last_host = ?, last_route = ?,"
        " next_at = ?, lease_until = NULL, strikes = ?, updated_at = ?"
        f" WHERE id = ? AND state = {_IN_FLIGHT}",
        [
            (int(r.state), r.reply, r.host, r.route, r.next_at, r.strikes, now, r.message.id)
            for r in results
        ],
    )
    events.append_many(conn, (_event(r) for r in results), now)
    capture.keep(
        conn,
        (
            NewCapture(r.message.tenant_id, r.message.id, r.mail_from, r.message.email, r.captured)
            for r in results
            if r.captured is not None
        ),
        now,
    )


def complete_finished(
    conn: sqlite3.Connection, campaign_ids: Sequence[int], now: float
) -> list[int]:
    """Mark running campaigns with nothing left to send completed; return their ids."""
    done = []
    for cid in campaign_ids:
        row = conn.execute(
            "SELECT tenant_id FROM campaigns WHERE id = ? AND state = ? AND NOT EXISTS"
            " (SELECT 1 FROM messages WHERE campaign_id = ?"
            f" AND state IN ({_QUEUED}, {_IN_FLIGHT}, {_DEFERRED}))",
            (cid, int(CampaignState.RUNNING), cid),
        ).fetchone()
        if row is None:
            continue
        conn.execute(
            "UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?",
            (int(CampaignState.COMPLETED), now, cid),
        )
        events.append(conn, row[0], EventType.CAMPAIGN_COMPLETED, campaign_id=cid, now=now)
        done.append(cid)
    return done

"""What retention deletes, a bounded batch at a time: old events, captured messages and final
transactional messages, and the bodies of final messages. Each function runs in the caller's
transaction with the clock passed in.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from agent.model import FINAL_STATES, Lane

_FINAL = ", ".join(str(int(s)) for s in sorted(FINAL_STATES))
PRUNED_THROUGH_KEY = "events_pruned_through"


def events_pruned_through(conn: sqlite3.Connection) -> int:
    """The highest event seq retention has deleted (0: none), for OUT_OF_RANGE checks."""
    row = conn.execute(
        "SELECT value FROM agent_meta WHERE key = ?", (PRUNED_THROUGH_KEY,)
    ).fetchone()
    return int(row[0]) if row else 0


def prune_events(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` of the oldest events from before ``before``; return how many."""
    seqs = [
        r[0]
        for r in conn.execute(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ?"
            " ORDER BY seq LIMIT ?) RETURNING seq",
            (before, limit),
        )
    ]
    if seqs:
        conn.execute(
            "INSERT INTO agent_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
            " SET value = max(CAST(value AS INTEGER), excluded.value)",
            (PRUNED_THROUGH_KEY, max(seqs)),
        )
    return len(seqs)


def prune_capture(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` captured messages from before ``before``."""
    return conn.execute(
        "DELETE FROM captured WHERE id IN (SELECT id FROM captured WHERE time < ?"
        " ORDER BY id LIMIT ?)",
        (before, limit),
    ).rowcount


class Sweep(NamedTuple):
    """Where a sweep of message bodies got to."""

    after_id: int  # the last id looked at, or 0 at the end of the table
    cleared: int  # messages whose bodies were cleared


def sweep_bodies(conn: sqlite3.Connection, after_id: int, before: float, limit: int) -> Sweep:
    """Clear recipient data and transactional content of final messages last touched before
    ``before``, among the ``limit`` messages after id ``after_id``.

    Returns (the last id looked at, or 0 at the end of the table; messages cleared). A sweep
    walks the table by id, so each batch is a short range scan however big the table is.
    """
    rows = conn.execute(
        "SELECT id, content_id, state, payload IS NOT NULL, updated_at FROM messages"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    if not rows:
        return Sweep(0, 0)
    old = [
        (mid, content)
        for mid, content, state, has_payload, updated in rows
        if state in FINAL_STATES and updated < before and (has_payload or content is not None)
    ]
    conn.executemany("UPDATE messages SET payload = NULL WHERE id = ?", [(m,) for m, _ in old])
    conn.executemany(
        "UPDATE contents SET raw_mime = NULL, spec = json_set(spec, '$.content', json('null'))"
        " WHERE id = ? AND (raw_mime IS NOT NULL OR json_extract(spec, '$.content') IS NOT NULL)",
        [(c,) for _, c in old if c is not None],
    )
    return Sweep(rows[-1][0] if len(rows) == limit else 0, len(old))


def prune_transactional(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` final transactional messages last touched before ``before``,
    with their content."""
    gone = conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE campaign_id IS NULL"
        f" AND lane = ? AND state IN ({_FINAL}) AND updated_at < ? ORDER BY id LIMIT ?)"
        " RETURNING content_id",
        (int(Lane.TRANSACTIONAL), before, limit),
    ).fetchall()
    conn.executemany(
        "DELETE FROM contents WHERE id = ? AND NOT EXISTS"
        " (SELECT 1 FROM messages WHERE content_id = contents.id)",
        [(c,) for (c,) in gone if c is not None],
    )
    return len(gone)

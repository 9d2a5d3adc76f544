"""What retention deletes, a bounded batch at a time: old events, captured messages, final
transactional messages and the final messages of ended campaigns (counted first in
``message_totals``, per campaign, day and state), and the bodies of final messages. Each
function runs in the caller's transaction with the clock passed in.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from mailfleet.agent.model import FINAL_STATES, CampaignState, Lane

_FINAL = ", ".join(str(int(s)) for s in sorted(FINAL_STATES))
_ENDED = f"{int(CampaignState.COMPLETED)}, {int(CampaignState.CANCELLED)}"
_DAY = 86400
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

    Returns (the last id looked at, or 0 when the sweep is done; messages cleared). A sweep
    walks the table by id, so each batch is a short range scan however big the table is, and
    ends at the first message created after ``before`` (ids grow with creation time, and none
    younger can have been final since before it).
    """
    rows = conn.execute(
        "SELECT id, content_id, state, payload IS NOT NULL, created_at, updated_at FROM messages"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    if not rows:
        return Sweep(0, 0)
    old = [
        (mid, content)
        for mid, content, state, has_payload, _, updated in rows
        if state in FINAL_STATES and updated < before and (has_payload or content is not None)
    ]
    conn.executemany("UPDATE messages SET payload = NULL WHERE id = ?", [(m,) for m, _ in old])
    conn.executemany(
        "UPDATE contents SET raw_mime = NULL, spec = json_set(spec, '$.content', json('null'))"
        " WHERE id = ? AND (raw_mime IS NOT NULL OR json_extract(spec, '$.content') IS NOT NULL)",
        [(c,) for _, c in old if c is not None],
    )
    done = len(rows) < limit or rows[-1][4] >= before
    return Sweep(0 if done else rows[-1][0], len(old))


def prune_transactional(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` final transactional messages last touched before ``before``,
    with their content, counted first in the tenant's totals."""
    gone = conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE campaign_id IS NULL"
        f" AND lane = ? AND state IN ({_FINAL}) AND updated_at < ? ORDER BY id LIMIT ?)"
        " RETURNING content_id, tenant_id, state, updated_at",
        (int(Lane.TRANSACTIONAL), before, limit),
    ).fetchall()
    _fold(conn, [(tenant, None, state, updated) for _, tenant, state, updated in gone])
    conn.executemany(
        "DELETE FROM contents WHERE id = ? AND NOT EXISTS"
        " (SELECT 1 FROM messages WHERE content_id = contents.id)",
        [(c,) for c, *_ in gone if c is not None],
    )
    return len(gone)


class Walk(NamedTuple):
    """Where a walk over campaign messages got to."""

    after_id: int  # the last id looked at, or 0 when the walk is done
    deleted: int  # messages deleted and folded into the totals


def prune_campaign_messages(
    conn: sqlite3.Connection, after_id: int, before: float, limit: int
) -> Walk:
    """Delete the final messages of ended campaigns last touched before ``before``, among the
    ``limit`` messages after id ``after_id``, folding them into the per-campaign, per-day
    totals first (:func:`mailfleet.agent.store.campaigns.counts` adds those back).

    Ids grow with creation time and no message created after ``before`` can have been final
    since before it, so the walk ends at the first such message: each pass reads only the old
    end of the table. Messages of a running or paused campaign stay, so an upload to it still
    finds every address it already had.
    """
    rows = conn.execute(
        "SELECT id, tenant_id, campaign_id, state, created_at, updated_at FROM messages"
        " WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    if not rows:
        return Walk(0, 0)
    candidates = {c for _, _, c, state, _, updated in rows if c and state in FINAL_STATES}
    ended = _ended(conn, candidates) if candidates else set()
    old = [
        (mid, tenant, campaign, state, updated)
        for mid, tenant, campaign, state, _, updated in rows
        if campaign in ended and state in FINAL_STATES and updated < before
    ]
    if old:
        conn.executemany("DELETE FROM messages WHERE id = ?", [(r[0],) for r in old])
        _fold(
            conn,
            [(tenant, campaign, state, updated) for _, tenant, campaign, state, updated in old],
        )
    done = len(rows) < limit or rows[-1][4] >= before
    return Walk(0 if done else rows[-1][0], len(old))


def _ended(conn: sqlite3.Connection, campaign_ids: set[int]) -> set[int]:
    marks = ", ".join("?" * len(campaign_ids))
    return {
        r[0]
        for r in conn.execute(
            f"SELECT id FROM campaigns WHERE id IN ({marks}) AND state IN ({_ENDED})",
            sorted(campaign_ids),
        )
    }


def _fold(conn: sqlite3.Connection, gone: Iterable[tuple[int, int | None, int, float]]) -> None:
    """Count deleted messages (tenant, campaign or None, state, last update) in the totals."""
    totals = Counter(
        (tenant, campaign or 0, int(updated // _DAY), state)
        for tenant, campaign, state, updated in gone
    )
    conn.executemany(
        "INSERT INTO message_totals (campaign_id, tenant_id, day, state, count)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
        [(c, t, d, s, n) for (t, c, d, s), n in totals.items()],
    )

"""Pruning what retention no longer keeps, without pausing delivery.

Every pass deletes in batches of ``batch`` rows, each its own short (non-durable) transaction
in the store's group commit, so the scheduler's claims and settlements go on between them.
Freed pages are reused by SQLite, so a store under steady sending stops growing once the
oldest data reaches the end of its window. The pruning functions are pure SQL on a connection
with the clock passed in; :class:`Retention` runs them on the coordinator's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from agent.config import AgentSettings
from agent.model import FINAL_STATES, Lane
from agent.ops.retention_config import RetentionSettings
from agent.store.handle import Store

log = logging.getLogger("mailfleet.agent.ops")

_DAY = 86400.0
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


def sweep_bodies(
    conn: sqlite3.Connection, after_id: int, before: float, limit: int
) -> tuple[int, int]:
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
        return 0, 0
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
    return (rows[-1][0] if len(rows) == limit else 0), len(old)


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


@dataclass
class PassResult:
    """Rows pruned in one pass, by kind."""

    counts: dict[str, int] = field(default_factory=dict)


class Retention:
    """The background pruning task of the coordinator."""

    def __init__(self, store: Store, settings: RetentionSettings) -> None:
        self._store = store
        self.settings = settings
        self._stop = asyncio.Event()

    async def reload(self, settings: AgentSettings) -> None:
        """Use new windows from the next pass on (SIGHUP)."""
        self.settings = settings.retention

    async def _drain(self, job: Callable[[sqlite3.Connection], int]) -> int:
        total = 0
        while not self._stop.is_set():
            n = await self._store.write(job, durable=False)
            total += n
            if n < self.settings.batch:
                break
            await asyncio.sleep(0)  # let delivery's writes in between
        return total

    async def prune_once(self, now: float | None = None) -> PassResult:
        """One full pass over every kind of data, as of ``now``."""
        now = time.time() if now is None else now
        s, limit = self.settings, self.settings.batch
        result = PassResult()
        result.counts["events"] = await self._drain(
            lambda c: prune_events(c, now - s.events_days * _DAY, limit)
        )
        result.counts["capture"] = await self._drain(
            lambda c: prune_capture(c, now - s.capture_days * _DAY, limit)
        )
        result.counts["transactional"] = await self._drain(
            lambda c: prune_transactional(c, now - s.transactional_days * _DAY, limit)
        )
        cleared, after = 0, 0
        while not self._stop.is_set():
            job = partial(
                sweep_bodies, after_id=after, before=now - s.bodies_days * _DAY, limit=limit
            )
            after, n = await self._store.write(job, durable=False)
            cleared += n
            if after == 0:
                break
            await asyncio.sleep(0)
        result.counts["bodies"] = cleared
        if any(result.counts.values()):
            log.info(
                "retention pruned %s",
                ", ".join(f"{n:,} {kind}" for kind, n in result.counts.items() if n),
            )
        return result

    async def run(self) -> None:
        """Prune every ``interval_seconds`` until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                await self.prune_once()
            except sqlite3.Error:
                log.exception("retention pass failed; trying again at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.interval_seconds)

    def stop(self) -> None:
        """Finish the current batch and end :meth:`run`."""
        self._stop.set()

"""Store size over simulated days of steady campaign sending, with retention pruning.

Each simulated day is one campaign of ``PER_DAY`` recipients (6 million by default), uploaded,
claimed and delivered an hour's share at a time through the store's own functions
(``enqueue``, ``claim_campaign``, ``settle``: message rows, their events), stamped with the
simulated clock, and completed at the end of the day. Every ``PRUNE_EVERY_HOURS`` simulated
hours the pruning functions run as the agent's background task runs them. The windows are
shortened to one day (events, bodies, ended campaigns' messages) so a few days show the store
reaching its steady size. Prints the store's size at the end of each simulated day; stops
early (saying so) once ``BENCH_RETENTION_MAX_SECONDS`` of wall time have passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mailfleet.agent.model import (
    CampaignSpec,
    Content,
    EventType,
    Lane,
    MessageState,
    Sender,
    payload,
)
from mailfleet.agent.store import campaigns, queue, tenants
from mailfleet.agent.store.db import open_and_migrate
from mailfleet.agent.store.enqueue import Enqueue, enqueue
from mailfleet.agent.store.queue import Settled
from mailfleet.agent.store.retention import (
    prune_campaign_messages,
    prune_events,
    sweep_bodies,
)

DAY, HOUR = 86400.0, 3600.0
PER_DAY = int(os.environ.get("BENCH_RETENTION_PER_DAY", "6000000"))
DAYS = int(os.environ.get("BENCH_RETENTION_DAYS", "4"))
MAX_SECONDS = float(os.environ.get("BENCH_RETENTION_MAX_SECONDS", "1200"))
PRUNE_EVERY_HOURS = 6
WINDOW_DAYS = 1.0  # events, bodies and ended campaigns' messages
BATCH = 2000  # rows per pruning transaction, the agent's default
CHUNK = 10_000  # rows per upload, claim and settlement transaction
_PAYLOAD = payload.encode_text("Someone", ("First", "Paris"))


@contextlib.contextmanager
def _tx(conn: sqlite3.Connection) -> Iterator[None]:
    with conn:
        conn.execute("BEGIN")
        yield


def _campaign(conn: sqlite3.Connection, day: int) -> int:
    spec = CampaignSpec(
        f"day {day}",
        Sender("news@shop.example"),
        Content(subject="News", html="<p>{{ first }}</p>"),
        f"day-{day}",
    )
    cid = campaigns.create(conn, 1, spec).id
    campaigns.transition(conn, 1, cid, "start")
    return cid


def _hour(conn: sqlite3.Connection, cid: int, hour: int, start: float, n: int) -> None:
    """Upload and deliver the ``hour``-th hour's ``n`` recipients of campaign ``cid``."""
    for offset in range(0, n, CHUNK):
        t = start + offset * HOUR / n
        first = hour * n + offset
        rows = [
            (f"u{i}@example.com", f"u{i}@example.com", _PAYLOAD)
            for i in range(first, first + min(CHUNK, n - offset))
        ]
        with _tx(conn):
            enqueue(conn, Enqueue(1, Lane.BULK, json.dumps(rows), campaign_id=cid), t)
        with _tx(conn):
            claimed = queue.claim_campaign(conn, cid, CHUNK, t, t + 600)
            done = [
                Settled(m, MessageState.DELIVERED, EventType.MESSAGE_DELIVERED, "250 ok", "mx")
                for m in claimed
            ]
            queue.settle(conn, done, t + 1)


def _walk(conn: sqlite3.Connection, step: Callable[..., tuple[int, int]], before: float) -> None:
    after = 0
    while True:
        with _tx(conn):
            after, _ = step(conn, after, before, BATCH)
        if after == 0:
            return


def _prune(conn: sqlite3.Connection, now: float) -> None:
    before = now - WINDOW_DAYS * DAY
    pruned = BATCH
    while pruned == BATCH:
        with _tx(conn):
            pruned = prune_events(conn, before, BATCH)
    _walk(conn, prune_campaign_messages, before)
    _walk(conn, sweep_bodies, before)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    """Print the store's size and live message rows at the end of each simulated day."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "agent.db"
        conn = open_and_migrate(db)
        conn.execute("PRAGMA synchronous = NORMAL")  # sizes, not durability, are measured
        with _tx(conn):
            tenants.create_tenant(conn, "default")
        start = 1_800_000_000.0
        sizes = []
        print(f"{PER_DAY:,} messages a day; windows {WINDOW_DAYS:g} day; {DAYS} days")
        for day in range(DAYS):
            with _tx(conn):
                cid = _campaign(conn, day)
            for hour in range(24):
                now = start + day * DAY + hour * HOUR
                _hour(conn, cid, hour, now, PER_DAY // 24)
                if (hour + 1) % PRUNE_EVERY_HOURS == 0:
                    _prune(conn, now + HOUR)
            with _tx(conn):
                queue.complete_finished(conn, [cid], now + HOUR)
            sizes.append(_size(db))
            rows = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            kept = conn.execute("SELECT sum(count) FROM message_totals").fetchone()[0] or 0
            print(
                f"  day {day + 1}: store {sizes[-1] / 1e6:8.1f} MB, {rows:,} message rows,"
                f" {kept:,} counted in totals ({time.monotonic() - began:.0f} s)",
                flush=True,
            )
            if time.monotonic() - began > MAX_SECONDS and day + 1 < DAYS:
                print(f"  stopped after {MAX_SECONDS:.0f} s of wall time")
                break
        conn.close()
        if len(sizes) >= 3:
            steady = sizes[1:]
            growth = (max(steady) - min(steady)) / min(steady)
            print(f"  days 2-{len(sizes)}: size varies by {growth:.1%}")


if __name__ == "__main__":
    main()

"""Store size over a simulated week of steady sending, with retention pruning each hour.

Each simulated hour queues and delivers ``PER_HOUR`` transactional messages through the
capture route (message row, content, events, a ~6 KB captured copy), stamped with the
simulated clock, then runs every pruning function as the agent's background task does. The
windows are shortened (events and messages 2 days, bodies and capture 1 day) so a week shows
the store reaching its steady size and staying there. Prints the size at the end of each day.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from agent.model import EventType, Lane, MessageState, payload
from agent.store import tenants
from agent.store.db import open_and_migrate
from agent.store.retention import prune_capture, prune_events, prune_transactional, sweep_bodies

DAY, HOUR = 86400.0, 3600.0
PER_HOUR = int(os.environ.get("BENCH_RETENTION_PER_HOUR", "1000"))
DAYS = 7
WINDOWS = {"events": 2.0, "transactional": 2.0, "bodies": 1.0, "capture": 1.0}
BATCH = 2000
_BODY = (b"<p>Thanks for your order. " * 240)[:6000]


def _hour(conn: sqlite3.Connection, start: float) -> None:
    spec = json.dumps(
        {
            "sender": {"from_address": "orders@shop.example"},
            "content": {"subject": "Order", "html": "<p>{{ n }}</p>"},
        }
    )
    with conn:
        conn.execute("BEGIN")
        for i in range(PER_HOUR):
            t = start + i * HOUR / PER_HOUR
            content = conn.execute("INSERT INTO contents (spec) VALUES (?)", (spec,)).lastrowid
            mid = conn.execute(
                "INSERT INTO messages (tenant_id, content_id, lane, state, email, email_norm,"
                " payload, idempotency_key, created_at, updated_at)"
                " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    content,
                    int(Lane.TRANSACTIONAL),
                    int(MessageState.DELIVERED),
                    f"buyer{i}@example.com",
                    f"buyer{i}@example.com",
                    payload.encode("Someone", fields={"order": "12345"}),
                    f"k{start}-{i}",
                    t,
                    t,
                ),
            ).lastrowid
            for event in (EventType.MESSAGE_QUEUED, EventType.MESSAGE_DELIVERED):
                conn.execute(
                    "INSERT INTO events (tenant_id, time, type, message_id, email)"
                    " VALUES (1, ?, ?, ?, ?)",
                    (t, int(event), mid, f"buyer{i}@example.com"),
                )
            conn.execute(
                "INSERT INTO captured (tenant_id, message_id, time, mail_from, rcpt_to, data)"
                " VALUES (1, ?, ?, 'orders@shop.example', ?, ?)",
                (mid, t, f"buyer{i}@example.com", _BODY),
            )
    _prune(conn, start + HOUR)


def _prune(conn: sqlite3.Connection, now: float) -> None:
    def drain(job: Callable[[], int]) -> None:
        while True:
            with conn:
                conn.execute("BEGIN")
                n = job()
            if n < BATCH:
                return

    drain(lambda: prune_events(conn, now - WINDOWS["events"] * DAY, BATCH))
    drain(lambda: prune_capture(conn, now - WINDOWS["capture"] * DAY, BATCH))
    drain(lambda: prune_transactional(conn, now - WINDOWS["transactional"] * DAY, BATCH))
    after = 0
    while True:
        with conn:
            conn.execute("BEGIN")
            after, _ = sweep_bodies(conn, after, now - WINDOWS["bodies"] * DAY, BATCH)
        if after == 0:
            break
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    """Print the store's size at the end of each simulated day."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "agent.db"
        conn = open_and_migrate(db)
        conn.execute("PRAGMA synchronous = NORMAL")  # sizes, not durability, are measured
        with conn:
            conn.execute("BEGIN")
            tenants.create_tenant(conn, "default")
        start = 1_800_000_000.0
        sizes = []
        print(f"{PER_HOUR * 24:,} messages a day; windows (days): {WINDOWS}")
        for day in range(DAYS):
            for hour in range(24):
                _hour(conn, start + day * DAY + hour * HOUR)
            sizes.append(_size(db))
            print(f"  day {day + 1}: store {sizes[-1] / 1e6:8.1f} MB", flush=True)
        conn.close()
        steady = sizes[2:]
        growth = (max(steady) - min(steady)) / min(steady)
        print(f"  days 3-{DAYS}: size varies by {growth:.1%} (flat once the windows are full)")


if __name__ == "__main__":
    main()

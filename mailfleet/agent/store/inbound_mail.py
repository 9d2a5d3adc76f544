"""Mail for the bounce domain, kept until the feedback consumer has applied it.

The SMTP intake stores one row per recipient before it answers 250; the consumer reads the
oldest rows and deletes each in the same transaction as its effects.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class InboundRow:
    """One stored message for one recipient."""

    id: int
    rcpt_to: str
    mail_from: str
    data: bytes


def store(
    conn: sqlite3.Connection, peer: str, mail_from: str, recipients: Sequence[str], data: bytes
) -> list[int]:
    """Keep mail for the bounce domain, one row per recipient; return their ids."""
    now = time.time()
    ids = []
    for rcpt in recipients:
        cur = conn.execute(
            "INSERT INTO inbound_mail (received_at, peer, mail_from, rcpt_to, data)"
            " VALUES (?, ?, ?, ?, ?)",
            (now, peer, mail_from, rcpt, data),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    return ids


def pending(conn: sqlite3.Connection) -> bool:
    """Whether any row waits."""
    return conn.execute("SELECT 1 FROM inbound_mail LIMIT 1").fetchone() is not None


def oldest(conn: sqlite3.Connection, limit: int) -> list[InboundRow]:
    """Up to ``limit`` rows, oldest first."""
    rows = conn.execute(
        "SELECT id, rcpt_to, mail_from, data FROM inbound_mail ORDER BY id LIMIT ?", (limit,)
    ).fetchall()
    return [InboundRow(row_id, rcpt, sender, bytes(data)) for row_id, rcpt, sender, data in rows]


def delete(conn: sqlite3.Connection, row_id: int) -> None:
    """Forget a row whose effects the caller's transaction has applied."""
    conn.execute("DELETE FROM inbound_mail WHERE id = ?", (row_id,))

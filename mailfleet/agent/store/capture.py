"""The capture mailbox: messages a capture route kept instead of sending."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from mailfleet.agent.errors import NotFound


@dataclass(frozen=True)
class Captured:
    """One captured message; ``data`` is empty in listings."""

    id: int
    message_id: int
    time: float
    mail_from: str
    rcpt_to: str
    size: int
    data: bytes = b""


class NewCapture(NamedTuple):
    """A message a capture route kept, to store."""

    tenant_id: int
    message_id: int
    mail_from: str
    rcpt_to: str
    data: bytes


def keep(conn: sqlite3.Connection, kept: Iterable[NewCapture], now: float) -> None:
    """Store captured messages inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO captured (tenant_id, message_id, time, mail_from, rcpt_to, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(c.tenant_id, c.message_id, now, c.mail_from, c.rcpt_to, c.data) for c in kept],
    )


def list_(conn: sqlite3.Connection, tenant_id: int, after_id: int, limit: int) -> list[Captured]:
    """The tenant's captured messages after ``after_id``, oldest first, without bodies."""
    rows = conn.execute(
        "SELECT id, message_id, time, mail_from, rcpt_to, length(data) FROM captured"
        " WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
        (tenant_id, after_id, limit),
    ).fetchall()
    return [Captured(*r) for r in rows]


def get(
    conn: sqlite3.Connection, tenant_id: int, *, captured_id: int = 0, message_id: int = 0
) -> Captured:
    """One captured message with its bytes, by its own id or by the queued message's id."""
    column, value = ("id", captured_id) if captured_id else ("message_id", message_id)
    row = conn.execute(
        "SELECT id, message_id, time, mail_from, rcpt_to, length(data), data FROM captured"
        f" WHERE tenant_id = ? AND {column} = ? ORDER BY id DESC LIMIT 1",
        (tenant_id, value),
    ).fetchone()
    if row is None:
        raise NotFound("no such captured message")
    return Captured(*row)

"""The audit log: one row per state-changing call (or per summary of many sends)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, when and from where; ``id`` is 0 until stored."""

    time: float
    tenant_id: int
    key_id: str
    key_name: str
    person: str
    peer: str
    action: str
    summary: str
    outcome: str
    calls: int = 1
    id: int = 0


_COLUMNS = "time, tenant_id, key_id, key_name, person, peer, action, summary, outcome, calls"


def append(conn: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
    """Add entries, in one statement."""
    conn.executemany(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.time,
                e.tenant_id,
                e.key_id,
                e.key_name,
                e.person,
                e.peer,
                e.action,
                e.summary,
                e.outcome,
                e.calls,
            )
            for e in entries
        ],
    )


def page(
    conn: sqlite3.Connection,
    tenant_id: int | None,
    after_id: int,
    limit: int,
) -> list[AuditEntry]:
    """Up to ``limit`` entries after ``after_id``, oldest first; of one tenant, or of all when
    ``tenant_id`` is None."""
    where, args = "id > ?", [after_id]
    if tenant_id is not None:
        where += " AND tenant_id = ?"
        args.append(tenant_id)
    rows = conn.execute(
        f"SELECT {_COLUMNS}, id FROM audit_log WHERE {where} ORDER BY id LIMIT ?",
        (*args, limit),
    )
    return [AuditEntry(*row) for row in rows]


def newest(conn: sqlite3.Connection, tenant_id: int | None, limit: int) -> list[AuditEntry]:
    """The ``limit`` newest entries, oldest of them first (for a person reading the tail)."""
    where, args = "", []
    if tenant_id is not None:
        where, args = "WHERE tenant_id = ?", [tenant_id]
    rows = conn.execute(
        f"SELECT {_COLUMNS}, id FROM audit_log {where} ORDER BY id DESC LIMIT ?", (*args, limit)
    ).fetchall()
    return [AuditEntry(*row) for row in reversed(rows)]


def prune(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` entries from before ``before``."""
    return conn.execute(
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < ?"
        " ORDER BY id LIMIT ?)",
        (before, limit),
    ).rowcount

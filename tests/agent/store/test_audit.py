"""The audit log's rows: pages by cursor and tenant, the newest tail, pruning by age."""

from __future__ import annotations

import sqlite3

from mailfleet.agent.store import audit
from mailfleet.agent.store.audit import AuditEntry


def _entry(at: float, tenant_id: int, action: str) -> AuditEntry:
    return AuditEntry(at, tenant_id, "k", "key", "", "127.0.0.1", action, "", "ok")


def test_pages_tails_and_pruning(conn: sqlite3.Connection) -> None:
    audit.append(conn, [_entry(10, 1, "a"), _entry(20, 2, "b"), _entry(30, 1, "c")])
    assert [e.action for e in audit.page(conn, None, 0, 10)] == ["a", "b", "c"]
    first = audit.page(conn, 1, 0, 1)
    assert [e.action for e in first] == ["a"]
    assert [e.action for e in audit.page(conn, 1, first[0].id, 10)] == ["c"]
    assert [e.action for e in audit.newest(conn, None, 2)] == ["b", "c"]
    # older than 25: two rows, one per batch
    assert [audit.prune(conn, 25, 1) for _ in range(3)] == [1, 1, 0]
    assert [e.action for e in audit.page(conn, None, 0, 10)] == ["c"]

"""Whether a reader of an id-ordered table may pass a range of ids for good.

On PostgreSQL, ids come from a sequence when a row is inserted, but rows become visible when
their transaction commits: a transaction holding id 10 may commit after one holding id 11, and
a reader that saw 11 and moved its cursor there would never see 10. A reader here notes the
``bound`` of the snapshot it read with (the next transaction id then); once every transaction
with an id below it has ended (the snapshot's ``xmin`` passed it), every row below the highest
id it read is committed or never will be, and reading the range once more finds them all. The
tables' ids are drawn only after their transaction has an id (migration 0018), so no writer can
hold an id it read past without being counted. SQLite has one writer at a time: ids commit in
order, and a range is settled at once.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def bound(conn: Connection) -> int | None:
    """The transaction id every transaction running now is below (PostgreSQL), after a read;
    None where commits follow id order (SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    return int(conn.scalar(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")))


def settled(conn: Connection, limit: int | None) -> bool:
    """Whether every transaction below ``limit`` (from :func:`bound`) has ended."""
    if limit is None:
        return True
    oldest = conn.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
    return int(oldest) >= limit

"""Batch statements for the importer that go straight to the DB-API driver.

SQLAlchemy's per-row parameter processing costs more than the insert itself on a million-row
import, so these take rows already in driver form (see ``driver_value``) and hand whole batches
to the driver: ``executemany`` and ``json_each`` on SQLite, array parameters with ``unnest`` on
PostgreSQL (one statement per batch instead of one round trip per row). Table and column names
are fixed here, never taken from user input; values are always bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Column, Connection

# The columns of a new contact, in the order of the tuples handed to ``insert_contacts``.
CONTACT_COLUMNS = (
    "workspace_id", "email", "email_key", "first_name", "last_name", "status", "consent_source",
    "consent_at", "fields", "created_at", "updated_at",
)  # fmt: skip
_NAMES = ", ".join(CONTACT_COLUMNS)


def driver_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` converted the way SQLAlchemy would bind it for ``column`` on this dialect."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if process is None else process(value)


class ContactBatches(Protocol):
    """The three batch statements an import needs, for one dialect."""

    def existing(
        self, conn: Connection, workspace_id: int, keys: list[str], with_fields: bool
    ) -> Sequence[Sequence[Any]]:
        """(id, email, email_key, fields or None) of the workspace's contacts whose mailbox
        key is among ``keys``."""
        ...

    def insert_contacts(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
        """Insert new contacts (tuples in ``CONTACT_COLUMNS`` order); their ids if cheap,
        else an empty list (then ``add_members`` finds them by address)."""
        ...

    def add_members(
        self, conn: Connection, workspace_id: int, list_id: int, added_at: Any,
        ids: list[int], keys: list[str],
    ) -> None:  # fmt: skip
        """Put contacts on a list, given by id or (new ones) by mailbox key; no duplicates."""
        ...


def _existing_sql(with_fields: bool, keys_in: str, marker: str) -> str:
    return (
        f"SELECT id, email, email_key, {'fields' if with_fields else 'NULL'} FROM contacts "
        f"WHERE workspace_id = {marker} AND email_key {keys_in}"
    )


class SqliteBatches:
    """SQLite: executemany for contacts; JSON array parameters for look-ups and list members."""

    def existing(
        self, conn: Connection, workspace_id: int, keys: list[str], with_fields: bool
    ) -> Sequence[Sequence[Any]]:
        """See ``ContactBatches.existing``."""
        sql = _existing_sql(with_fields, "IN (SELECT value FROM json_each(?))", "?")
        return conn.exec_driver_sql(sql, (workspace_id, json.dumps(keys))).all()

    def insert_contacts(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
        """See ``ContactBatches.insert_contacts``; ids are left to ``add_members``."""
        if rows:
            marks = ", ".join("?" * len(CONTACT_COLUMNS))
            conn.exec_driver_sql(f"INSERT INTO contacts ({_NAMES}) VALUES ({marks})", rows)
        return []

    def add_members(
        self, conn: Connection, workspace_id: int, list_id: int, added_at: Any,
        ids: list[int], keys: list[str],
    ) -> None:  # fmt: skip
        """See ``ContactBatches.add_members``."""
        # "WHERE 1": SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT.
        conn.exec_driver_sql(
            "INSERT INTO list_members (contact_id, list_id, added_at) SELECT value, ?, ? "
            "FROM json_each(?) WHERE 1 ON CONFLICT DO NOTHING",
            (list_id, added_at, json.dumps(ids)),
        )
        conn.exec_driver_sql(
            "INSERT INTO list_members (contact_id, list_id, added_at) SELECT id, ?, ? "
            "FROM contacts WHERE workspace_id = ? "
            "AND email_key IN (SELECT value FROM json_each(?)) ON CONFLICT DO NOTHING",
            (list_id, added_at, workspace_id, json.dumps(keys)),
        )


class PostgresBatches:
    """PostgreSQL: each batch is one statement over array parameters (``unnest``)."""

    def existing(
        self, conn: Connection, workspace_id: int, keys: list[str], with_fields: bool
    ) -> Sequence[Sequence[Any]]:
        """See ``ContactBatches.existing``."""
        sql = _existing_sql(with_fields, "= ANY(%s::text[])", "%s")
        return conn.exec_driver_sql(sql, (workspace_id, keys)).all()

    def insert_contacts(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
        """See ``ContactBatches.insert_contacts``; returns the new ids."""
        if not rows:
            return []
        ws, _, _, _, _, _, source, now, _, _, _ = rows[0]
        emails, keys, first, last, status, fields = (list(c) for c in zip(
            *((r[1], r[2], r[3], r[4], r[5], r[8]) for r in rows), strict=True))  # fmt: skip
        result = conn.exec_driver_sql(
            f"INSERT INTO contacts ({_NAMES}) "
            "SELECT %s, e, k, f, l, s, %s, %s, j::json, %s, %s FROM unnest(%s::text[], "
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
            "AS t(e, k, f, l, s, j) RETURNING id",
            (ws, source, now, now, now, emails, keys, first, last, status, fields),
        )
        return [row[0] for row in result]

    def add_members(
        self, conn: Connection, workspace_id: int, list_id: int, added_at: Any,
        ids: list[int], keys: list[str],
    ) -> None:  # fmt: skip
        """See ``ContactBatches.add_members``."""
        if keys:
            ids = ids + [row[0] for row in self.existing(conn, workspace_id, keys, False)]
        conn.exec_driver_sql(
            "INSERT INTO list_members (contact_id, list_id, added_at) "
            "SELECT unnest(%s::integer[]), %s, %s ON CONFLICT DO NOTHING",
            (ids, list_id, added_at),
        )


def batches_for(conn: Connection) -> ContactBatches:
    """The batch statements for the connection's dialect."""
    if conn.dialect.name == "sqlite":
        return SqliteBatches()
    if conn.dialect.name == "postgresql":
        return PostgresBatches()
    raise NotImplementedError(f"bulk import on {conn.dialect.name}")

"""Bulk statements that go straight to the DB-API driver.

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself on a
million-row import. These helpers take rows already in driver form (see ``driver_value``) and
hand them to the driver's ``executemany``. Table and column names always come from the models,
never from user input; values are always bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def markers(conn: Connection, count: int) -> str:
    """``count`` positional parameter markers for this driver, comma-separated."""
    return ", ".join([_marker(conn)] * count)


def driver_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` converted the way SQLAlchemy would bind it for ``column`` on this dialect."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if process is None else process(value)


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order, driver form) with one executemany."""
    if not rows:
        return
    names = ", ".join(table.c[name].name for name in columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({markers(conn, len(columns))})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    conn.exec_driver_sql(sql, list(rows))


def insert_json(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """SQLite only: INSERT ``rows`` as one JSON array parameter unpacked by ``json_each``.

    One statement per batch instead of one per row: SQLite does the per-row work in C, and the
    caller can have the new rows back (``returning``) without a second query. Values must be
    JSON-representable (text, numbers, None).
    """
    if not rows:
        return []
    names = ", ".join(table.c[name].name for name in columns)
    values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
    sql = f"INSERT INTO {table.name} ({names}) SELECT {values} FROM json_each(?) WHERE 1"
    # "WHERE 1" keeps SQLite's parser from reading ON CONFLICT as part of the join.
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(table.c[name].name for name in returning)
    result = conn.exec_driver_sql(sql, (json.dumps(rows),))
    return [tuple(row) for row in result] if returning else []

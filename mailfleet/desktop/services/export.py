"""CSV export with spreadsheet formula injection neutralised."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from mailfleet.desktop.db.models import Contact
from mailfleet.desktop.services.fields import list_fields
from mailfleet.desktop.services.import_report import ImportReport

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """The cell text for ``value``; a leading apostrophe stops a spreadsheet running it."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a UTF-8 CSV (with BOM, so Excel reads the encoding right); returns the row count."""
    count = 0
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralise(h) for h in header])
        for row in rows:
            writer.writerow([neutralise(v) for v in row])
            count += 1
    return count


def export_contacts(
    conn: Connection,
    workspace_id: int,
    path: Path,
    where: ColumnElement[bool] | None = None,
) -> int:
    """Export the workspace's contacts (those matching ``where``, e.g. a segment) to ``path``.

    Rows are streamed from the database, so a million contacts never sit in memory at once.
    """
    custom = list_fields(conn, workspace_id)
    query = select(
        Contact.email,
        Contact.first_name,
        Contact.last_name,
        Contact.status,
        Contact.consent_source,
        Contact.consent_at,
        Contact.created_at,
        Contact.fields,
    ).where(Contact.workspace_id == workspace_id)
    if where is not None:
        query = query.where(where)
    result = conn.execution_options(yield_per=2000).execute(query.order_by(Contact.id))
    header = [
        "email", "first_name", "last_name", "status", "consent_source", "consent_at",
        "created_at", *(f.label for f in custom),
    ]  # fmt: skip

    def rows() -> Iterable[list[Any]]:
        for *plain, values in result:
            yield [*plain, *((values or {}).get(f.key) for f in custom)]

    return write_csv(path, header, rows())


def export_report(report: ImportReport, path: Path) -> int:
    """Export an import report: the totals, the fields left empty, the rows that were another
    spelling of a contact, the addresses some servers refuse, then each rejected row with its
    line and reason."""
    totals = [
        ("rows read", report.rows_read), ("imported", report.imported),
        ("updated", report.updated), ("skipped", report.skipped), ("rejected", report.rejected),
    ]  # fmt: skip
    rows: list[list[Any]] = [["total", name, count, ""] for name, count in totals]
    rows += [["skipped", reason, count, ""] for reason, count in report.skip_reasons.items()]
    rows += [["left empty", key, count, "unreadable value"]
             for key, count in report.unreadable.items()]  # fmt: skip
    rows += [["same person", p.line or "", p.email, f"as {p.same_as}"]
             for p in report.same_person]  # fmt: skip
    rows += [["imported, some servers refuse", f.line, f.email,
              "accented or non-Latin letters before the @"] for f in report.non_ascii]  # fmt: skip
    rows += [["rejected", r.line, r.email, r.reason] for r in report.rejections]
    return write_csv(path, ["kind", "line", "email", "reason"], rows)

"""Helpers for import tests: writing files and running a plain import."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Engine, select

from mailfleet.desktop.db.models import Contact
from mailfleet.desktop.services.csvformat import sniff
from mailfleet.desktop.services.import_report import ImportPlan, ImportReport
from mailfleet.desktop.services.importer import run_import


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    """Write ``rows`` as CSV (minimal quoting, CRLF line ends as Excel does)."""
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def plan_for(
    path: Path, workspace: int, columns: tuple[str | None, ...], **kw: object
) -> ImportPlan:
    """A plan for ``path`` with the sniffed format."""
    return ImportPlan(path, sniff(path), columns, workspace, **kw)  # type: ignore[arg-type]


def import_file(engine: Engine, plan: ImportPlan) -> ImportReport:
    """Run the import and check the report's books balance."""
    report = run_import(engine, plan)
    assert report.balanced(), report
    return report


def emails(engine: Engine, workspace: int) -> dict[str, str]:
    """Address → status of the workspace's contacts."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Contact.email, Contact.status).where(Contact.workspace_id == workspace)
        )
        return {email: status for email, status in rows}

"""Importing contacts from a CSV/TSV file.

The whole import is one transaction: a cancelled or failed import rolls back and leaves the
database as it was. Rows are streamed from the file (parsed in another process when the file is
big, see ``import_parse``) and written in batches with executemany, so memory stays flat however
long the file is. Every row read ends up in exactly one of imported, updated, skipped, rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Engine

from mailfleet.desktop.db import bulk
from mailfleet.desktop.db.models import Base, Contact, ContactStatus, FieldType
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import confirmations, import_parse, suppression, workspaces
from mailfleet.desktop.services import fields as fields_service
from mailfleet.desktop.services.import_parse import ColumnLayout, ParsedBatch, RowSpec
from mailfleet.desktop.services.import_report import (
    EMAIL,
    FIELD_PREFIX,
    FIRST_NAME,
    LAST_NAME,
    ImportPlan,
    ImportReport,
)
from mailfleet.desktop.services.import_writer import BatchWriter, Outcome

_CREATED_AT = Base.metadata.tables[Contact.__tablename__].c.created_at
Progress = Callable[[int, int, ImportReport], None]
Batches = Callable[[ImportPlan, RowSpec], Iterator[ParsedBatch]]


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as a ``threading.Event``."""

    def is_set(self) -> bool:
        """True once the import should stop."""
        ...


class ImportCancelled(Exception):
    """Raised inside the transaction to roll it back when the user cancels."""


def column_layout(plan: ImportPlan, known: dict[str, FieldType]) -> ColumnLayout:
    """Where the plan's address, name and custom columns are (``known``: field key → type)."""
    if EMAIL not in plan.columns:
        raise ValueError("no column is mapped to the email address")
    names: list[tuple[int, str]] = []
    custom: list[tuple[int, str, FieldType]] = []
    for index, target in enumerate(plan.columns):
        if target in (FIRST_NAME, LAST_NAME):
            names.append((index, target))
        elif target is not None and target.startswith(FIELD_PREFIX):
            key = target.removeprefix(FIELD_PREFIX)
            if key not in known:
                raise ValueError(f"unknown field {key!r}")
            custom.append((index, key, known[key]))
    return ColumnLayout(plan.columns.index(EMAIL), tuple(names), tuple(custom))


def _row_spec(conn: Connection, plan: ImportPlan, now: datetime) -> RowSpec:
    """Create the plan's new fields and work out how to turn a record into a row."""
    known = {f.key: f.type for f in fields_service.list_fields(conn, plan.workspace_id)}
    for new in plan.new_fields:
        spec = fields_service.create_field(conn, plan.workspace_id, new.label, new.type)
        known[spec.key] = spec.type
    layout = column_layout(plan, known)
    return RowSpec(
        layout.email_index,
        layout.names,
        layout.custom,
        workspace_id=plan.workspace_id,
        consent_source=plan.consent_source or f"import: {plan.path.name}",
        now=bulk.driver_value(conn, _CREATED_AT, now),
        merge_duplicates=plan.update_existing,
        lookup=suppression.load_lookup(conn, plan.workspace_id),
        status=ContactStatus.SUBSCRIBED if plan.confirm_form is None else ContactStatus.UNCONFIRMED,
    )


def _target_list(conn: Connection, plan: ImportPlan) -> int | None:
    if plan.new_list_name:
        return workspaces.create_list(conn, plan.workspace_id, plan.new_list_name)
    if plan.list_id is not None and not workspaces.list_in_workspace(
        conn, plan.workspace_id, plan.list_id
    ):
        raise ValueError(f"list {plan.list_id} is not in this workspace")
    return plan.list_id


def _merge(report: ImportReport, parsed: ParsedBatch, outcome: Outcome) -> None:
    report.rows_read += parsed.rows_read
    for rejection in parsed.rejections:
        report.reject(rejection.line, rejection.reason, rejection.email)
    report.skip("empty row", parsed.empty)
    report.same_person.extend(parsed.same_person)
    report.unreadable.update(parsed.unreadable)
    report.non_ascii.extend(parsed.non_ascii)
    report.same_person.extend(outcome.same_person)
    report.imported += outcome.imported
    report.updated += outcome.updated
    report.suppressed += outcome.suppressed
    for reason, count in outcome.skipped.items():
        report.skip(reason, count)


def default_batches(plan: ImportPlan, spec: RowSpec) -> Iterator[ParsedBatch]:
    """Parsed batches of the plan's file (from another process when the file is big)."""
    return import_parse.batches(plan.path, plan.format, spec)


def run_import(
    engine: Engine,
    plan: ImportPlan,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    batches: Batches = default_batches,
) -> ImportReport:
    """Import ``plan.path`` into ``plan.workspace_id`` and report on every row.

    ``progress(bytes_read, bytes_total, report)`` is called after each batch. When ``cancel``
    is set the transaction is rolled back and the report comes back with ``cancelled=True``
    and nothing but the rows read so far.
    """
    report = ImportReport()
    try:
        with engine.begin() as conn:
            now = utcnow()
            spec = _row_spec(conn, plan, now)
            report.list_id = _target_list(conn, plan)
            writer = BatchWriter(
                conn,
                plan.workspace_id,
                update_existing=plan.update_existing,
                list_id=report.list_id,
                mapped_names=frozenset(key for _, key in spec.names),
                now=now,
            )
            parsed_batches = batches(plan, spec)
            try:
                for parsed in parsed_batches:
                    if cancel is not None and cancel.is_set():
                        raise ImportCancelled
                    _merge(report, parsed, writer.write(parsed))
                    if progress is not None:
                        progress(parsed.position, parsed.size, report)
            finally:
                close = getattr(parsed_batches, "close", None)
                if close is not None:
                    close()
            if cancel is not None and cancel.is_set():
                raise ImportCancelled
            if plan.confirm_form is not None:
                report.to_confirm = confirmations.request_for_import(
                    conn, plan.workspace_id, plan.confirm_form, spec.consent_source, now
                )
    except ImportCancelled:
        return ImportReport(rows_read=report.rows_read, cancelled=True)
    return report

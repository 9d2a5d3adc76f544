"""Checking an import file's values before the import runs, for the wizard's preview.

A dry run of the import's own parser over the whole file, without the database: the preview
then says what the import will do with the values it cannot read (a custom field left empty,
a row rejected) before anything is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import fields as fields_service
from mailfleet.desktop.services import suppression
from mailfleet.desktop.services.import_parse import RowSpec, parse_batches
from mailfleet.desktop.services.import_report import ImportPlan, non_ascii_note, unreadable_note
from mailfleet.desktop.services.importer import CancelToken, column_layout

_NO_SUPPRESSION = suppression.Lookup("", {}, {})


@dataclass(slots=True)
class FileCheck:
    """What the parser found in the whole file."""

    rows: int = 0
    rejected: int = 0
    same_person: int = 0
    non_ascii: int = 0
    unreadable: Counter[str] = field(default_factory=Counter)
    cancelled: bool = False

    def lines(self) -> list[str]:
        """What the preview shows, one sentence a line."""
        notes = [unreadable_note(key, count, "will be") for key, count in self.unreadable.items()]
        if self.rejected:
            rows = "1 row" if self.rejected == 1 else f"{self.rejected:,} rows"
            notes.append(f"{rows} will be rejected: no usable email address, or a control "
                         "character in a name")  # fmt: skip
        if self.same_person:
            rows = "1 row is" if self.same_person == 1 else f"{self.same_person:,} rows are"
            notes.append(f"{rows} another spelling of an address above it (such as capital "
                         "letters) and will count as the same person")  # fmt: skip
        if self.non_ascii:
            notes.append(non_ascii_note(self.non_ascii))
        if notes:
            return notes
        return ["The 1 row looks fine." if self.rows == 1
                else f"All {self.rows:,} rows look fine."]  # fmt: skip


def check_file(
    plan: ImportPlan, fields: dict[str, FieldType], cancel: CancelToken | None = None
) -> FileCheck:
    """Parse the plan's whole file as the import would; ``fields`` maps the workspace's field
    keys to their types (the plan's new fields are added here)."""
    known = dict(fields)
    known.update({fields_service.field_key(new.label): new.type for new in plan.new_fields})
    layout = column_layout(plan, known)
    spec = RowSpec(
        layout.email_index, layout.names, layout.custom, workspace_id=plan.workspace_id,
        consent_source="", now=None, merge_duplicates=False, lookup=_NO_SUPPRESSION,
    )  # fmt: skip
    check = FileCheck()
    for batch in parse_batches(plan.path, plan.format, spec):
        if cancel is not None and cancel.is_set():
            return FileCheck(cancelled=True)
        check.rows += batch.rows_read
        check.rejected += len(batch.rejections)
        check.same_person += len(batch.same_person)
        check.non_ascii += len(batch.non_ascii)
        check.unreadable.update(batch.unreadable)
    return check

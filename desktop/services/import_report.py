"""What an import plans to do and what it did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from desktop.db.models import FieldType
from desktop.services.csvformat import CsvFormat

EMAIL = "email"
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
FIELD_PREFIX = "field:"


@dataclass(frozen=True, slots=True)
class NewField:
    """A custom field the import creates before it writes rows."""

    label: str
    type: FieldType


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """Everything the wizard decided: what to read, where each column goes, what to do.

    ``columns[i]`` is the target of column ``i``: ``"email"``, ``"first_name"``,
    ``"last_name"``, ``"field:<key>"`` for a custom field, or None to ignore the column.
    Existing contacts are updated (only the mapped columns) or skipped untouched; imported and
    updated contacts join the target list.
    """

    path: Path
    format: CsvFormat
    columns: tuple[str | None, ...]
    workspace_id: int
    new_fields: tuple[NewField, ...] = ()
    list_id: int | None = None
    new_list_name: str | None = None
    update_existing: bool = False
    consent_source: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not imported: the line it starts on, why, and its raw address."""

    line: int
    reason: str
    email: str


@dataclass(slots=True)
class ImportReport:
    """What happened to every row read. ``suppressed`` counts imported rows that were on the
    suppression list (and so were imported with a non-subscribed status)."""

    rows_read: int = 0
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    suppressed: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    cancelled: bool = False
    list_id: int | None = None

    def balanced(self) -> bool:
        """True when every row read is accounted for exactly once."""
        return self.rows_read == self.imported + self.updated + self.skipped + self.rejected

    def reject(self, line: int, reason: str, email: str = "") -> None:
        """Record a rejected row."""
        self.rejected += 1
        self.rejections.append(Rejection(line, reason, email))

    def skip(self, reason: str, count: int = 1) -> None:
        """Record ``count`` skipped rows."""
        if count:
            self.skipped += count
            self.skip_reasons[reason] += count

    def summary(self) -> str:
        """One line for people: the four outcomes and the total they add up to."""
        text = (
            f"{self.rows_read:,} rows read: {self.imported:,} imported, {self.updated:,} "
            f"updated, {self.skipped:,} skipped, {self.rejected:,} rejected"
        )
        if self.suppressed:
            text += f" ({self.suppressed:,} imported as suppressed)"
        return text

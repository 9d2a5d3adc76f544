"""What an import plans to do and what it did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services.csvformat import CsvFormat

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
    updated contacts join the target list. With ``confirm_form`` (a signup form's id) the new
    contacts are *pending confirmation* until they confirm the double opt-in mail that form's
    agent sends them.
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
    confirm_form: int | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not imported: the line it starts on, why, and its raw address."""

    line: int
    reason: str
    email: str


def unreadable_note(key: str, count: int, tense: str) -> str:
    """ "12 rows had an unreadable signup_date; that field was left empty" (``tense`` is "was"
    for what an import did, "will be" for what it will do)."""
    rows = "1 row" if count == 1 else f"{count:,} rows"
    return f"{rows} had an unreadable {key}; that field {tense} left empty"


@dataclass(frozen=True, slots=True)
class SamePerson:
    """A row whose address is another spelling of a mailbox already in the file or in the
    workspace (``USER@free.fr`` for ``user@free.fr``): it was merged into that contact. The
    line is None when the match was a contact already in the workspace."""

    line: int | None
    email: str
    same_as: str

    def describe(self) -> str:
        """``USER@free.fr (line 3, as user@free.fr)``."""
        where = "" if self.line is None else f"line {self.line:,}, "
        return f"{self.email} ({where}as {self.same_as})"


@dataclass(frozen=True, slots=True)
class Flagged:
    """An imported address to warn about: its local part (before the @) is not plain ASCII, so
    it can only be delivered to servers that offer SMTPUTF8 (RFC 6531); some refuse it."""

    line: int
    email: str


def non_ascii_note(count: int) -> str:
    """What a marketer needs to know about addresses that need SMTPUTF8."""
    rows, verb = ("1 address", "has") if count == 1 else (f"{count:,} addresses", "have")
    return (f"{rows} {verb} accented or non-Latin letters before the @, which some receiving "
            "mail servers refuse")  # fmt: skip


# How many addresses a note names (all are in the report's export).
_NAMED = 5


def _named(items: list[str], count: int) -> str:
    """The first few of ``count`` items, and how many more there are."""
    more = f" and {count - _NAMED:,} more" if count > _NAMED else ""
    return ", ".join(items[:_NAMED]) + more


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
    same_person: list[SamePerson] = field(default_factory=list)
    non_ascii: list[Flagged] = field(default_factory=list)
    # Per custom field key: imported or updated rows whose value for it was unreadable.
    unreadable: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    cancelled: bool = False
    list_id: int | None = None
    # New contacts pending confirmation, whose double opt-in mail is to be sent.
    to_confirm: int = 0

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
        """For people: the four outcomes and the total they add up to, then one line per
        note (fields left empty, rows that were the same person, addresses some servers
        refuse)."""
        text = (
            f"{self.rows_read:,} rows read: {self.imported:,} imported, {self.updated:,} "
            f"updated, {self.skipped:,} skipped, {self.rejected:,} rejected"
        )
        if self.suppressed:
            text += f" ({self.suppressed:,} imported as suppressed)"
        if self.to_confirm:
            text += f", {self.to_confirm:,} pending confirmation"
        notes = [unreadable_note(key, count, "was") for key, count in self.unreadable.items()]
        if self.same_person:
            notes.append(self.same_person_note())
        if self.non_ascii:
            named = _named([f"{f.email} (line {f.line:,})" for f in self.non_ascii[:_NAMED]],
                           len(self.non_ascii))  # fmt: skip
            notes.append(f"{non_ascii_note(len(self.non_ascii))} (imported anyway): {named}")
        return "\n".join([text, *notes])

    def same_person_note(self) -> str:
        """Names the rows that were another spelling of a contact, e.g. "2 rows were the same
        person as another row: USER@free.fr (line 3, as user@free.fr), …"."""
        count = len(self.same_person)
        named = _named([item.describe() for item in self.same_person[:_NAMED]], count)
        verb = "row was" if count == 1 else "rows were"
        return f"{count:,} {verb} the same person as another row: {named}"

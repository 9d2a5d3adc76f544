"""Reading and checking the rows of an import file, in batches, with no database access.

Parsing (CSV, address checks, typed values, JSON) costs about as much as writing to SQLite, and
threads do not overlap them because of the GIL. Big files are therefore parsed in a separate
process that streams batches back while this process writes; small files are parsed inline.
"""

from __future__ import annotations

import json
import multiprocessing
import queue as queue_module
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mailfleet.desktop.db import bulk
from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import ContactStatus, FieldType
from mailfleet.desktop.services import fields as fields_service
from mailfleet.desktop.services import suppression
from mailfleet.desktop.services.csvformat import CsvFormat, RecordReader
from mailfleet.desktop.services.emails import check_address, header_unsafe
from mailfleet.desktop.services.import_report import (
    FIRST_NAME,
    LAST_NAME,
    Flagged,
    Rejection,
    SamePerson,
)

BATCH = 5000
# Below this size a separate process costs more (start-up, imports) than it saves.
PROCESS_THRESHOLD = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    """Where a file's address, name and custom columns are: ``names`` as (column, target),
    ``custom`` as (column, field key, field type)."""

    email_index: int
    names: tuple[tuple[int, str], ...]
    custom: tuple[tuple[int, str, FieldType], ...]


@dataclass(frozen=True, slots=True)
class RowSpec:
    """How to turn a record into a new contact's row: where the address, name and custom
    columns are, the values every row shares, the suppression list, and whether a repeated
    address in the file updates (merges into) the first one or is skipped."""

    email_index: int
    names: tuple[tuple[int, str], ...]
    custom: tuple[tuple[int, str, FieldType], ...]
    workspace_id: int
    consent_source: str
    now: Any  # in driver form (see mailfleet.desktop.db.bulk.driver_value)
    merge_duplicates: bool
    lookup: suppression.Lookup
    # A new contact's status when nothing suppresses its address: unconfirmed when it has to
    # confirm a double opt-in mail first.
    status: ContactStatus = ContactStatus.SUBSCRIBED


# A new contact's row in bulk.CONTACT_COLUMNS order. Plain tuples: they cross the process
# boundary cheaply and go to the database driver as they are.
ContactRow = tuple[Any, ...]
_EMAIL = bulk.CONTACT_COLUMNS.index("email")
_FIELDS = bulk.CONTACT_COLUMNS.index("fields")


@dataclass(slots=True)
class ParsedBatch:
    """Up to ``BATCH`` records: one row per distinct mailbox (keyed by its mailbox key), and
    what happened to the rest and to unreadable custom values. ``same_person`` names the
    repeats spelled differently from the row they repeat (``USER@free.fr`` after
    ``user@free.fr``)."""

    rows_read: int = 0
    rows: dict[str, ContactRow] = field(default_factory=dict)
    duplicates: int = 0
    same_person: list[SamePerson] = field(default_factory=list)
    # New addresses whose local part needs SMTPUTF8 (imported, with a warning).
    non_ascii: list[Flagged] = field(default_factory=list)
    # Per custom field key: rows whose value could not be read, so the field was left empty.
    unreadable: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    empty: int = 0
    position: int = 0
    size: int = 0


# The C string encoder behind json.dumps: custom values are written straight to JSON text,
# which is about three times faster than building a dict and dumping it.
_encode = json.encoder.encode_basestring_ascii
Fragment = Callable[[str], "str | None"]


def _text_json(raw: str) -> str | None:
    return _encode(raw) if raw.strip() else None


def _number_json(raw: str) -> str | None:
    value = fields_service.parse_value(FieldType.NUMBER, raw)
    return None if value is None else repr(value)


def _date_json(raw: str) -> str | None:
    text = raw.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            date.fromisoformat(text)  # already YYYY-MM-DD: check it, keep the text
        except ValueError:
            pass
        else:
            return f'"{text}"'
    value = fields_service.parse_value(FieldType.DATE, raw)
    return None if value is None else f'"{value}"'


def _boolean_json(raw: str) -> str | None:
    value = fields_service.parse_value(FieldType.BOOLEAN, raw)
    return None if value is None else ("true" if value else "false")


_FRAGMENTS: dict[FieldType, Fragment] = {
    FieldType.TEXT: _text_json,
    FieldType.NUMBER: _number_json,
    FieldType.DATE: _date_json,
    FieldType.BOOLEAN: _boolean_json,
}


class _RowParser:
    """Checks the cells of one record and files it as a valid row, a rejection or empty."""

    def __init__(self, spec: RowSpec) -> None:
        self.spec = spec
        self.email_index = spec.email_index
        self.names = spec.names
        self.custom = [(index, key, _encode(key) + ":", _FRAGMENTS[ftype])
                       for index, key, ftype in spec.custom]  # fmt: skip

    def parse(self, line: int, cells: list[str], out: ParsedBatch) -> None:
        width = len(cells)
        raw = cells[self.email_index] if self.email_index < width else ""
        checked = check_address(raw)
        if checked.email is None:
            if not any(cell.strip() for cell in cells):
                out.empty += 1
            else:
                out.rejections.append(Rejection(line, checked.error or "invalid address", raw))
            return
        names: dict[str, str] = {}
        for index, key in self.names:
            cell = cells[index] if index < width else ""
            if header_unsafe(cell):
                out.rejections.append(Rejection(line, f"{key} contains a control character", raw))
                return
            names[key] = cell.strip()
        parts: list[str] = []
        for index, key, prefix, fragment in self.custom:
            try:
                value = fragment(cells[index] if index < width else "")
            except fields_service.FieldValueError:
                # Custom fields are optional: an unreadable value leaves that field empty
                # rather than costing the whole contact.
                out.unreadable[key] += 1
                continue
            if value is not None:
                parts.append(prefix + value)
        spec, email = self.spec, checked.email
        key = mailbox_key(email)
        reason = spec.lookup.reason(email, key)
        status = spec.status if reason is None else suppression.STATUS_FOR_REASON[reason]
        custom = "{" + ",".join(parts) + "}"
        row: ContactRow = (
            spec.workspace_id, email, key, names.get(FIRST_NAME, ""), names.get(LAST_NAME, ""),
            status.value, spec.consent_source, spec.now, custom, spec.now, spec.now,
        )  # fmt: skip
        first = out.rows.get(key)
        if first is None:
            out.rows[key] = row
            if not email.isascii() and not email.rpartition("@")[0].isascii():
                out.non_ascii.append(Flagged(line, email))
            return
        out.duplicates += 1
        if first[_EMAIL] != email:
            out.same_person.append(SamePerson(line, email, first[_EMAIL]))
        if spec.merge_duplicates:
            # The later row wins, custom values key by key; the address stays as first written.
            merged = {**json.loads(first[_FIELDS]), **json.loads(row[_FIELDS])}
            out.rows[key] = (*first[: _EMAIL + 1], *row[_EMAIL + 1 : _FIELDS], json.dumps(merged),
                             *row[_FIELDS + 1 :])  # fmt: skip


def parse_batches(path: Path, fmt: CsvFormat, spec: RowSpec) -> Iterator[ParsedBatch]:
    """Parse the file in batches of ``BATCH`` records (the header is not a record)."""
    with RecordReader(path, fmt) as reader:
        records = iter(reader)
        if fmt.has_header:
            next(records, None)
        parser = _RowParser(spec)
        batch = ParsedBatch(size=reader.size)
        for record in records:
            batch.rows_read += 1
            if record.error is not None:
                batch.rejections.append(Rejection(record.line, record.error, ""))
            else:
                parser.parse(record.line, record.cells, batch)
            if batch.rows_read == BATCH:
                batch.position = reader.position
                yield batch
                batch = ParsedBatch(size=reader.size)
        batch.position = reader.size
        yield batch


def _child(path: Path, fmt: CsvFormat, spec: RowSpec, queue: Any) -> None:
    try:
        for batch in parse_batches(path, fmt, spec):
            queue.put(batch)
    except Exception as exc:  # the parent re-raises it; a child has nowhere else to report
        queue.put(f"{type(exc).__name__}: {exc}")
        return
    queue.put(None)


class ParseError(RuntimeError):
    """The parsing process failed."""


def batches_from_process(path: Path, fmt: CsvFormat, spec: RowSpec) -> Iterator[ParsedBatch]:
    """Like ``parse_batches``, but parsed by a separate process; stopping early (closing the
    generator) ends that process."""
    # "spawn", not "fork": forking a process that runs Qt and database threads is unsafe.
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=4)
    process = context.Process(target=_child, args=(path, fmt, spec, queue), daemon=True)
    process.start()
    try:
        while True:
            try:
                item = queue.get(timeout=1)
            except queue_module.Empty:
                if not process.is_alive():
                    raise ParseError(f"parsing process ended ({process.exitcode})") from None
                continue
            if item is None:
                return
            if isinstance(item, str):
                raise ParseError(item)
            yield item
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        queue.close()


def batches(path: Path, fmt: CsvFormat, spec: RowSpec) -> Iterator[ParsedBatch]:
    """Parsed batches of the file, from a separate process when the file is big."""
    if path.stat().st_size >= PROCESS_THRESHOLD:
        return batches_from_process(path, fmt, spec)
    return parse_batches(path, fmt, spec)

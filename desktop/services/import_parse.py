"""Reading and checking the rows of an import file, in batches, with no database access.

Parsing (CSV, address checks, typed values, JSON) costs about as much as writing to SQLite, and
threads do not overlap them because of the GIL. Big files are therefore parsed in a separate
process that streams batches back while this process writes; small files are parsed inline.
"""

from __future__ import annotations

import json
import multiprocessing
import queue as queue_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.db.models import FieldType
from desktop.services import fields as fields_service
from desktop.services.csvformat import CsvFormat, RecordReader
from desktop.services.emails import check_address, header_unsafe
from desktop.services.import_report import Rejection

BATCH = 5000
# Below this size a separate process costs more (start-up, imports) than it saves.
PROCESS_THRESHOLD = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RowSpec:
    """Where the values of a row are: the address column, name columns, custom columns."""

    email_index: int
    names: tuple[tuple[int, str], ...]
    custom: tuple[tuple[int, str, FieldType], ...]


# A valid row: (line, normalised email, {built-in column: value}, custom values as JSON text).
ParsedRow = tuple[int, str, dict[str, str], str]


@dataclass(slots=True)
class ParsedBatch:
    """Up to ``BATCH`` records: the valid rows and what happened to the others."""

    rows_read: int = 0
    rows: list[ParsedRow] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    empty: int = 0
    position: int = 0
    size: int = 0


def _parse_cells(spec: RowSpec, line: int, cells: list[str], out: ParsedBatch) -> None:
    width = len(cells)
    raw = cells[spec.email_index] if spec.email_index < width else ""
    checked = check_address(raw)
    if checked.email is None:
        if not any(cell.strip() for cell in cells):
            out.empty += 1
        else:
            out.rejections.append(Rejection(line, checked.error or "invalid address", raw))
        return
    values: dict[str, str] = {}
    for index, key in spec.names:
        cell = cells[index] if index < width else ""
        if header_unsafe(cell):
            out.rejections.append(Rejection(line, f"{key} contains a control character", raw))
            return
        values[key] = cell.strip()
    custom: dict[str, Any] = {}
    for index, key, ftype in spec.custom:
        try:
            value = fields_service.parse_value(ftype, cells[index] if index < width else "")
        except fields_service.FieldValueError as exc:
            out.rejections.append(Rejection(line, f"field {key}: {exc}", raw))
            return
        if value is not None:
            custom[key] = value
    out.rows.append((line, checked.email, values, json.dumps(custom)))


def parse_batches(path: Path, fmt: CsvFormat, spec: RowSpec) -> Iterator[ParsedBatch]:
    """Parse the file in batches of ``BATCH`` records (the header is not a record)."""
    with RecordReader(path, fmt) as reader:
        records = iter(reader)
        if fmt.has_header:
            next(records, None)
        batch = ParsedBatch(size=reader.size)
        for record in records:
            batch.rows_read += 1
            if record.error is not None:
                batch.rejections.append(Rejection(record.line, record.error, ""))
            else:
                _parse_cells(spec, record.line, record.cells, batch)
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

"""Working out how a CSV/TSV file is written: encoding, delimiter, header; then reading it.

Records come with the physical line they start on, so a newline inside a quoted cell does not
throw the line numbers in an import report off.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mailfleet.desktop.services.emails import check_address

_DELIMITERS = ",;\t|"
_SAMPLE_BYTES = 64 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How to read a file: its text encoding, delimiter and whether row 1 is a header."""

    encoding: str
    delimiter: str
    has_header: bool


def _utf16_without_bom(head: bytes) -> str | None:
    # ASCII-heavy UTF-16 text has a NUL in every other byte; which half tells the byte order.
    even, odd = head[0::2], head[1::2]
    if len(head) < 4:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """Name the encoding of ``path``: a BOM decides; else UTF-8 if the whole file decodes as
    UTF-8, else Windows-1252 if it decodes as that, else Latin-1 (which decodes anything)."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(head)
    if utf16 is not None:
        return utf16
    for encoding in ("utf-8", "cp1252"):
        if _decodes(path, encoding):
            return encoding
    return "latin-1"


def _sample(path: Path, encoding: str) -> str:
    with path.open("rb") as raw:
        data = raw.read(_SAMPLE_BYTES)
        complete = not raw.read(1)
    text = data.decode(encoding, errors="replace")
    if not complete:
        # Drop the last, probably cut-off line so the sniffer sees whole records only.
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[:cut] if cut > 0 else text
    return text


def _records(sample: str, delimiter: str, limit: int = 50) -> list[list[str]]:
    try:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        return [row for _, row in zip(range(limit), reader, strict=False) if row]
    except csv.Error:
        return []


def _consistent(rows: list[list[str]]) -> bool:
    return bool(rows) and len(rows[0]) > 1 and all(len(r) == len(rows[0]) for r in rows)


def _delimiter(sample: str) -> str:
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and _consistent(_records(sample, sniffed)):
        return sniffed
    # The sniffer guesses wrong on small or irregular samples: prefer the candidate that splits
    # the first records into the same, largest number of columns.
    best, best_score = ",", 0
    for candidate in _DELIMITERS:
        rows = _records(sample, candidate)
        if not rows:
            continue
        width = len(rows[0])
        score = sum(1 for r in rows if len(r) == width) * (width - 1)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _looks_like_address(cell: str) -> bool:
    return "@" in cell and check_address(cell).email is not None


def _has_header(sample: str, delimiter: str) -> bool:
    rows = _records(sample, delimiter, limit=20)
    if not rows:
        return False
    if any(_looks_like_address(cell) for cell in rows[0]):
        return False
    if len(rows) > 1 and any(_looks_like_address(cell) for cell in rows[1]):
        return True
    try:
        return csv.Sniffer().has_header(sample)
    except csv.Error:
        return True


def sniff(path: Path) -> CsvFormat:
    """Detect encoding, delimiter and header of the CSV/TSV file at ``path``."""
    encoding = detect_encoding(path)
    sample = _sample(path, encoding)
    delimiter = _delimiter(sample)
    return CsvFormat(encoding, delimiter, _has_header(sample, delimiter))


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the physical line it starts on, its cells, or why it could not be read."""

    line: int
    cells: list[str]
    error: str | None = None


class RecordReader:
    """Streams the records of a file; ``position`` tells how many bytes have been consumed."""

    def __init__(self, path: Path, fmt: CsvFormat) -> None:
        self._raw: BinaryIO = path.open("rb")
        self._text = io.TextIOWrapper(self._raw, encoding=fmt.encoding, newline="")
        self._fmt = fmt
        self.size = path.stat().st_size

    @property
    def position(self) -> int:
        """Bytes read from the file so far (read-ahead included; good enough for progress)."""
        return self._raw.tell()

    def __iter__(self) -> Iterator[Record]:
        reader = csv.reader(self._text, delimiter=self._fmt.delimiter)
        done = 0
        while True:
            start = done + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                done = reader.line_num
                yield Record(start, [], f"unreadable CSV record: {exc}")
                continue
            done = reader.line_num
            yield Record(start, cells)

    def close(self) -> None:
        """Close the file."""
        self._text.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def preview(path: Path, fmt: CsvFormat, rows: int = 20) -> tuple[list[str], list[list[str]]]:
    """The header (or ``Column N`` names) and the first ``rows`` data rows, for the wizard."""
    with RecordReader(path, fmt) as reader:
        records = [r.cells for _, r in zip(range(rows + 1), reader, strict=False) if not r.error]
    width = max((len(r) for r in records), default=0)
    if fmt.has_header and records:
        header = records[0] + [f"Column {i + 1}" for i in range(len(records[0]), width)]
        return header, records[1:]
    return [f"Column {i + 1}" for i in range(width)], records[:rows]

"""Encoding, delimiter and header detection; line numbers with newlines inside quotes."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pytest

from mailfleet.desktop.services.csvformat import CsvFormat, RecordReader, detect_encoding, sniff

TEXT = "email;name\nzoë@example.com;Zoë\nbob@example.com;Bob\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("latin-1"), "cp1252"),
        (TEXT.encode("latin-1") + b"\x81", "latin-1"),
    ],
)
def test_encoding_is_detected(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    assert detect_encoding(path) == expected
    fmt = sniff(path)
    with RecordReader(path, fmt) as reader:
        assert [r.cells for r in reader][1] == ["zoë@example.com", "Zoë"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_and_header_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "in.csv"
    rows = [["email", "first", "city"], ["a@x.org", "Ann", "Oslo, Norway"], ["b@x.org", "B", ""]]
    with path.open("w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    assert sniff(path) == CsvFormat("utf-8", delimiter, True)


def test_header_absent_when_first_row_holds_an_address(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a@x.org,Ann\nb@x.org,Bob\n")
    assert sniff(path).has_header is False


def test_records_start_on_their_physical_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        b'email,note\r\na@x.org,"two\r\nlines"\r\nb@x.org,"three\nshort\rlines"\nc@x.org,x\n'
    )
    with RecordReader(path, CsvFormat("utf-8", ",", True)) as reader:
        found = [(r.line, r.cells[0]) for r in reader]
    assert found == [(1, "email"), (2, "a@x.org"), (4, "b@x.org"), (7, "c@x.org")]

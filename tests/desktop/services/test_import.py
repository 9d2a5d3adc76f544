"""The import service on hostile files, on SQLite and PostgreSQL, with exact accounting."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, func, select

from mailfleet.desktop.db.models import (
    Contact,
    ContactStatus,
    FieldType,
    ListMembership,
    SuppressionReason,
)
from mailfleet.desktop.services import import_parse, suppression
from mailfleet.desktop.services.csvformat import sniff
from mailfleet.desktop.services.import_check import check_file
from mailfleet.desktop.services.import_report import ImportReport, NewField
from mailfleet.desktop.services.importer import run_import
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from tests.desktop.importing import emails, import_file, plan_for, write_csv

COLUMNS = ("email", "first_name", "field:score")
NEW_SCORE = (NewField("score", FieldType.NUMBER),)


def test_hostile_file_is_accounted_for_row_by_row(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "hostile.csv",
        [
            ["Email", "First name", "Score"],
            ["ann@example.com", '=HYPERLINK("http://evil")', "1"],  # line 2: kept as data
            ["bob@example.com\r\nBcc: x@evil.com", "Bob", "2"],  # line 3, spans 2 lines
            ["not-an-address", "Nobody", "3"],  # line 5
            ["ANN@EXAMPLE.COM", "Ann again", "4"],  # line 6: the same mailbox, other case
            ["ann@EXAMPLE.com", "Ann dup", "5"],  # line 7: duplicate of line 2
            ["carl@example.com", "Carl", "many"],  # line 8: not a number, left empty
            ["", "", ""],  # line 9: empty
            ["dora@example.com", "Do\nra", "6"],  # line 10: name with a newline
        ],
    )
    report = import_file(
        engine, plan_for(path, workspace, COLUMNS, new_fields=NEW_SCORE, new_list_name="Hostile")
    )
    assert (report.rows_read, report.imported, report.updated, report.skipped, report.rejected) == (
        8, 2, 0, 3, 3,
    )  # fmt: skip
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejections] == [
        (3, "address contains a control character (CR, LF, NUL or similar)"),
        (5, "invalid email address"),
        (10, "first_name contains a control character"),
    ]
    assert report.unreadable == {"score": 1}
    assert report.skip_reasons == {"duplicate address in the file": 2, "empty row": 1}
    assert set(emails(engine, workspace)) == {"ann@example.com", "carl@example.com"}
    assert [(p.line, p.email) for p in report.same_person] == [(6, "ANN@example.com")]
    with engine.connect() as conn:
        members = conn.scalar(select(func.count()).select_from(ListMembership))
        first = conn.scalar(select(Contact.first_name).where(Contact.email == "ann@example.com"))
        carl = conn.scalar(select(Contact.fields).where(Contact.email == "carl@example.com"))
    assert members == 2 and carl == {}
    assert first == '=HYPERLINK("http://evil")'


def test_ten_thousand_invalid_rows_are_each_reported(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    rows = [["email"]] + [[f"bad{i}@@example.com"] for i in range(10_000)]
    rows.insert(5000, ["good@example.com"])
    path = write_csv(tmp_path / "bad.csv", rows)
    report = import_file(engine, plan_for(path, workspace, ("email",)))
    assert (report.rows_read, report.imported, report.rejected) == (10_001, 1, 10_000)
    lines = [r.line for r in report.rejections]
    assert lines == list(range(2, 5001)) + list(range(5002, 10_003))


def test_existing_contacts_are_updated_or_skipped(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "a.csv", [["email", "first", "score"], ["a@x.org", "A", "1"]])
    import_file(engine, plan_for(first, workspace, COLUMNS, new_fields=NEW_SCORE))
    second = write_csv(
        tmp_path / "b.csv",
        [["email", "first", "score"], ["a@X.ORG", "", "2"], ["b@x.org", "B", ""]],
    )
    skipped = import_file(engine, plan_for(second, workspace, COLUMNS))
    assert (skipped.imported, skipped.updated, skipped.skipped) == (1, 0, 1)
    updated = import_file(engine, plan_for(second, workspace, COLUMNS, update_existing=True))
    assert (updated.imported, updated.updated, updated.skipped) == (0, 2, 0)
    with engine.connect() as conn:
        row = conn.execute(
            select(Contact.first_name, Contact.fields).where(Contact.email == "a@x.org")
        ).one()
    assert row.first_name == "" and row.fields == {"score": 2.0}


def test_suppressed_addresses_are_never_imported_as_subscribed(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        suppression.add(conn, workspace, "bounce@x.org", SuppressionReason.BOUNCED)
        suppression.add(conn, workspace, "gone@x.org", SuppressionReason.ERASED, keep_address=False)
    path = write_csv(
        tmp_path / "s.csv", [["email"], ["bounce@X.org"], ["gone@x.org"], ["fine@x.org"]]
    )
    report = import_file(engine, plan_for(path, workspace, ("email",)))
    assert (report.imported, report.suppressed) == (3, 2)
    assert emails(engine, workspace) == {
        "bounce@x.org": ContactStatus.BOUNCED,
        "gone@x.org": ContactStatus.UNSUBSCRIBED,
        "fine@x.org": ContactStatus.SUBSCRIBED,
    }


def test_cancel_leaves_the_database_as_before(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [["email"]] + [[f"u{i}@x.org"] for i in range(20_000)])
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int, report: ImportReport) -> None:
        seen.append(report.imported)
        if report.imported >= 10_000:
            cancel.set()

    report = run_import(
        engine,
        plan_for(path, workspace, ("email",), new_list_name="Never", new_fields=NEW_SCORE),
        progress,
        cancel,
    )
    assert report.cancelled and seen[-1] >= 10_000
    assert emails(engine, workspace) == {}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ListMembership)) == 0


def test_workspaces_do_not_mix(engine: Engine, workspace: int, tmp_path: Path) -> None:
    with engine.begin() as conn:
        other = ensure_workspace(conn, "Other")
        foreign_list = create_list(conn, other, "Theirs")
    path = write_csv(tmp_path / "w.csv", [["email"], ["a@x.org"]])
    import_file(engine, plan_for(path, other, ("email",)))
    report = import_file(engine, plan_for(path, workspace, ("email",)))
    assert report.imported == 1
    try:
        run_import(engine, plan_for(path, workspace, ("email",), list_id=foreign_list))
    except ValueError as exc:
        assert "not in this workspace" in str(exc)
    else:
        raise AssertionError("a list of another workspace was accepted")


def test_utf16_tsv_through_the_parsing_process(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "u.tsv"
    path.write_text("email\tfirst\r\nzoë@example.com\tZoë\r\nbad\tX\r\n", encoding="utf-16")
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    fmt = sniff(path)
    assert (fmt.encoding, fmt.delimiter, fmt.has_header) == ("utf-16", "\t", True)
    plan = plan_for(path, ws, ("email", "first_name"))
    report = run_import(
        sqlite_engine,
        plan,
        batches=lambda p, spec: import_parse.batches_from_process(p.path, p.format, spec),
    )
    assert report.balanced() and (report.imported, report.rejected) == (1, 1)
    assert report.rejections[0].line == 3
    assert emails(sqlite_engine, ws) == {"zoë@example.com": "subscribed"}


def test_typed_values_are_stored_as_json(engine: Engine, workspace: int, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        [["email", "note", "vip", "joined", "score"],
         ["a@x.org", 'say "hi" \\ ünï 😀', "Yes", "2024-02-29T10:00:00", "-1e3"],
         ["b@x.org", "  ", "no", "2024-02-29", "7"],
         ["c@x.org", "x", "maybe", "", ""],
         ["d@x.org", "x", "", "2023-02-29", ""]],
    )  # fmt: skip
    plan = plan_for(
        path, workspace, ("email", "field:note", "field:vip", "field:joined", "field:score"),
        new_fields=(NewField("note", FieldType.TEXT), NewField("vip", FieldType.BOOLEAN),
                    NewField("joined", FieldType.DATE), NewField("score", FieldType.NUMBER)),
    )  # fmt: skip
    report = import_file(engine, plan)
    assert report.rejections == []
    assert report.unreadable == {"vip": 1, "joined": 1}
    with engine.connect() as conn:
        rows = conn.execute(select(Contact.email, Contact.fields))
        stored = {email: values for email, values in rows}
    assert stored == {
        "a@x.org": {"note": 'say "hi" \\ ünï 😀', "vip": True, "joined": "2024-02-29",
                    "score": -1000.0},
        "b@x.org": {"vip": False, "joined": "2024-02-29", "score": 7.0},
        "c@x.org": {"note": "x"},
        "d@x.org": {"note": "x"},
    }  # fmt: skip


def test_unreadable_optional_values_are_counted_in_the_preview_and_left_empty(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    rows = [["email", "signup_date"]] + [
        [f"u{i}@x.org", "2026-13-45" if i % 3 == 0 else "2026-01-02"] for i in range(36)
    ]
    path = write_csv(tmp_path / "dates.csv", rows)
    plan = plan_for(path, workspace, ("email", "field:signup_date"),
                    new_fields=(NewField("signup_date", FieldType.DATE),))  # fmt: skip
    check = check_file(plan, {})
    assert (check.rows, check.rejected, check.unreadable) == (36, 0, {"signup_date": 12})
    assert check.lines() == ["12 rows had an unreadable signup_date; that field will be left empty"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Contact)) == 0  # only a preview
    report = import_file(engine, plan)
    assert (report.imported, report.rejected) == (36, 0)
    assert report.summary().splitlines()[1] == (
        "12 rows had an unreadable signup_date; that field was left empty"
    )
    with engine.connect() as conn:
        stored = conn.execute(select(Contact.email, Contact.fields)).all()
    assert sorted(email for email, values in stored if values == {}) == sorted(
        f"u{i}@x.org" for i in range(0, 36, 3)
    )


def test_addresses_that_need_smtputf8_are_imported_with_a_note(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "intl.csv",
        [["email"], ["ann@exämple.com"], ["émilie.çava@exämple.com"], ["bob@x.org"]],
    )
    plan = plan_for(path, workspace, ("email",))
    assert check_file(plan, {}).lines() == [
        "1 address has accented or non-Latin letters before the @, which some receiving mail "
        "servers refuse"
    ]
    report = import_file(engine, plan)
    assert report.imported == 3
    # An international domain alone needs nothing special (it travels as xn--…).
    assert [(f.line, f.email) for f in report.non_ascii] == [(3, "émilie.çava@exämple.com")]
    assert report.summary().splitlines()[1] == (
        "1 address has accented or non-Latin letters before the @, which some receiving mail "
        "servers refuse (imported anyway): émilie.çava@exämple.com (line 3)"
    )
    assert "émilie.çava@exämple.com" in emails(engine, workspace)

"""The import wizard driven through its pages on hostile files, and cancelled mid-import."""

from __future__ import annotations

import csv
from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, func, select

from mailfleet.desktop.db.models import Contact, FieldDefinition, MailingList
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.import_wizard import ImportWizard
from mailfleet.desktop.ui.qt import QWizard
from mailfleet.desktop.ui.tasks import TaskRunner
from tests.desktop.importing import emails


def open_wizard(qtbot: QtBot, engine: Engine) -> tuple[ImportWizard, int]:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    runner = TaskRunner()
    wizard = ImportWizard(engine, ws, runner)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: wizard.ready)
    return wizard, ws


def run_through(wizard: ImportWizard, path: Path) -> None:
    """Name the file and press Next, as a person would."""
    wizard.file_page.path.setText(str(path))
    assert wizard.file_page.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.mapping_page


def test_hostile_file_through_the_wizard(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    path = tmp_path / "hostile.csv"
    rows = [
        ["E-mail", "Vorname", "Score"],
        ["zoë@example.com", "Zoë", "1"],
        ["=cmd|' /C calc'!A0@example.com", "=1+1", "2"],
        ["bob@example.com\nBcc: all@example.com", "Bob", "3"],
        ["zoë@EXAMPLE.com", "Zoë twice", "4"],
        ["ann@example.com", "Ann", "lots"],  # not a number: the score is left empty
    ] + [[f"broken{i}@", "X", "1"] for i in range(100)]
    with path.open("w", newline="", encoding="cp1252", errors="replace") as handle:
        csv.writer(handle).writerows(rows)
    wizard, ws = open_wizard(qtbot, sqlite_engine)
    run_through(wizard, path)
    mapping = wizard.mapping_page
    assert mapping.detected.text() == "Detected: cp1252, comma, with header"
    assert mapping.targets() == ["email", "first_name", "new:text"]
    # A wrong encoding chosen by hand is caught at the preview.
    mapping.encoding.setCurrentText("utf-8")
    mapping.encoding.activated.emit(mapping.encoding.currentIndex())
    assert "not utf-8" in mapping.detected.text() and not mapping.isComplete()
    mapping.encoding.setCurrentText("cp1252")
    mapping.encoding.activated.emit(mapping.encoding.currentIndex())
    cell = mapping.table.item(1, 1)
    assert cell is not None and cell.text() == "Zoë"
    assert mapping.detected.text() == "Detected: cp1252, comma, with header"
    mapping.combos[2].setCurrentIndex(mapping.combos[2].findData("new:number"))
    wizard.grab().save(str(artifacts / "import-1-mapping.png"))
    wizard.next()
    options = wizard.options_page
    # The values are checked before anything is imported.
    qtbot.waitUntil(lambda: options.file_check is not None, timeout=20_000)
    assert options.check.text().splitlines() == [
        "1 row had an unreadable score; that field will be left empty",
        "102 rows will be rejected: no usable email address, or a control character in a name",
        "1 address has accented or non-Latin letters before the @, which some receiving mail "
        "servers refuse",
    ]
    options.target_list.setCurrentIndex(options.target_list.findData(-1))
    assert not options.isComplete()
    options.new_list.setText("Fair")
    wizard.grab().save(str(artifacts / "import-1b-options.png"))
    wizard.next()
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.report is not None, timeout=20_000)
    report = run.report
    assert report is not None and report.balanced()
    assert (report.rows_read, report.imported, report.skipped, report.rejected) == (105, 2, 1, 102)
    assert run.rejections.rowCount() == 102
    first = run.rejections.item(0, 0)
    assert first is not None and first.text() == "3"  # the "=cmd" address is refused, on line 3
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.grab().save(str(artifacts / "import-2-report.png"))
    out = tmp_path / "report.csv"
    run.export_report_to(out)
    exported = out.read_text(encoding="utf-8-sig")
    assert "'=cmd|" in exported and "\n=cmd" not in exported
    assert "left empty,score,1,unreadable value" in exported
    assert emails(sqlite_engine, ws) == {
        "zoë@example.com": "subscribed",
        "ann@example.com": "subscribed",
    }
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(FieldDefinition.type)) == "number"
        assert conn.scalar(select(MailingList.name)) == "Fair"


def test_cancel_mid_import_leaves_nothing(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first", "last", "city"])
        writer.writerows([f"user{i}@example.com", "First", "Last", "Oslo"]
                         for i in range(300_000))  # fmt: skip
    wizard, _ = open_wizard(qtbot, sqlite_engine)
    run_through(wizard, path)
    wizard.next()
    wizard.next()
    run = wizard.run_page
    assert not wizard.button(QWizard.WizardButton.CancelButton).isEnabled()
    qtbot.waitUntil(lambda: run.progress.value() > 0, timeout=20_000)
    run.cancel_button.click()
    qtbot.waitUntil(lambda: run.report is not None, timeout=30_000)
    assert run.report is not None and run.report.cancelled
    assert run.status.text() == "Import cancelled: nothing was changed."
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Contact)) == 0
        assert conn.scalar(select(func.count()).select_from(FieldDefinition)) == 0


def test_the_options_page_and_the_report_warn_about_what_the_file_holds(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    path = tmp_path / "notes.csv"
    rows = [["email", "signup_date"], ["user0002@free.fr", "2026-01-02"],
            ["USER0002@FREE.FR", "2026-01-03"], ["émilie.çava@exämple.com", "soon"],
            ["zoe@x.org", "2026-02-30"]]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    wizard, ws = open_wizard(qtbot, sqlite_engine)
    run_through(wizard, path)
    mapping = wizard.mapping_page
    mapping.combos[1].setCurrentIndex(mapping.combos[1].findData("new:date"))
    wizard.next()
    options = wizard.options_page
    qtbot.waitUntil(lambda: options.file_check is not None, timeout=20_000)
    assert options.check.text().splitlines() == [
        "2 rows had an unreadable signup_date; that field will be left empty",
        "1 row is another spelling of an address above it (such as capital letters) and will "
        "count as the same person",
        "1 address has accented or non-Latin letters before the @, which some receiving mail "
        "servers refuse",
    ]
    wizard.grab().save(str(artifacts / "import-3-options-notes.png"))
    wizard.next()
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.report is not None, timeout=20_000)
    assert run.status.text().splitlines()[1:] == [
        "2 rows had an unreadable signup_date; that field was left empty",
        "1 row was the same person as another row: USER0002@free.fr (line 3, as user0002@free.fr)",
        "1 address has accented or non-Latin letters before the @, which some receiving mail "
        "servers refuse (imported anyway): émilie.çava@exämple.com (line 4)",
    ]
    wizard.grab().save(str(artifacts / "import-4-report-notes.png"))
    assert set(emails(sqlite_engine, ws)) == {
        "user0002@free.fr",
        "émilie.çava@exämple.com",
        "zoe@x.org",
    }

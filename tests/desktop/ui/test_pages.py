"""Contacts, segments and suppression pages driven through their widgets."""

from __future__ import annotations

from pathlib import Path

import shiboken6
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import contacts
from mailfleet.desktop.services.fields import list_fields
from mailfleet.desktop.services.import_report import NewField
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from mailfleet.desktop.ui.contact_dialog import ContactDialog
from mailfleet.desktop.ui.contacts_page import ContactsPage
from mailfleet.desktop.ui.qt import QAbstractItemView, Qt
from mailfleet.desktop.ui.segment_builder import SegmentBuilder
from mailfleet.desktop.ui.suppression_page import SuppressionPage
from mailfleet.desktop.ui.tasks import TaskRunner
from tests.desktop.importing import emails, import_file, plan_for, write_csv


def seed(engine: Engine, tmp_path: Path) -> int:
    """Six contacts with a number field; one list."""
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        create_list(conn, ws, "Friends")
    rows = [["email", "first", "score"], ["ann@a.org", "Ann", "9"], ["bob@a.org", "Bob", "3"],
            ["cy@b.org", "Cy", "7"], ["di@b.org", "Di", ""], ["ed@c.org", "Ed", "1"],
            ["flo@c.org", "Anna", "8"]]  # fmt: skip
    plan = plan_for(write_csv(tmp_path / "s.csv", rows), ws, ("email", "first_name",
                    "field:score"), new_fields=(NewField("score", FieldType.NUMBER),))  # fmt: skip
    import_file(engine, plan)
    return ws


def seeded_page(qtbot: QtBot, engine: Engine, ws: int) -> ContactsPage:
    """The Contacts page once it shows the six seeded contacts and offers the seeded list."""
    page = ContactsPage(engine, ws, TaskRunner())
    qtbot.addWidget(page)
    # The list choices are read apart from the contacts: a list picked before they arrive
    # is not there to pick, and the choices' arrival would then reset the filter.
    qtbot.waitUntil(lambda: page.list_filter.findText("Friends") >= 0)
    qtbot.waitUntil(lambda: page.count_label.text() == "6 contacts")
    return page


def test_search_as_you_type_and_bulk_unsubscribe(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    page = seeded_page(qtbot, sqlite_engine, ws)
    page.show()
    qtbot.keyClicks(page.search, "ann")  # type: ignore[no-untyped-call]
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts")
    assert [page.model.index(r, 0).data() for r in range(2)] == ["ann@a.org", "flo@c.org"]
    page.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
    page.table.selectRow(0)
    page.table.selectRow(1)
    page.unsubscribe_button.click()
    qtbot.waitUntil(lambda: emails(sqlite_engine, ws)["flo@c.org"] == "unsubscribed")
    page.search.clear()
    page.status_filter.setCurrentIndex(page.status_filter.findText("Unsubscribed"))
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts")


def test_edit_dialog_saves_typed_values(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    page = seeded_page(qtbot, sqlite_engine, ws)
    contact = page.model.contact(1)
    assert contact is not None and contact.email == "bob@a.org"
    with sqlite_engine.connect() as conn:
        values, specs = contacts.get_contact(conn, ws, contact.id), list_fields(conn, ws)
    dialog = ContactDialog(values, specs, page)
    qtbot.addWidget(dialog)
    dialog.first_name.setText("Robert")
    dialog.field_edits["score"].setText("4.5")
    changes = dialog.changes()
    assert changes["fields"] == {"score": 4.5}
    with sqlite_engine.begin() as conn:
        contacts.update_contact(conn, ws, contact.id, **changes)
        assert contacts.get_contact(conn, ws, contact.id)["first_name"] == "Robert"
    dialog.field_edits["score"].setText("lots")
    try:
        dialog.changes()
    except ValueError as exc:
        assert str(exc) == "score: 'lots' is not a number"
    else:
        raise AssertionError("a non-number was accepted for a number field")


def test_a_segment_builder_closed_while_its_count_waits_counts_nothing(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    builder = SegmentBuilder(sqlite_engine, ws, TaskRunner())
    builder.show()
    qtbot.waitUntil(lambda: builder.count_label.text() == "6 contacts match · 6 can be mailed")
    builder.root.add_rule().set_rule("field:score", ">=", "7")
    assert builder.counter.timer.isActive()
    with qtbot.waitSignal(builder.destroyed):
        builder.deleteLater()
    # The debounce went with its widgets; had it outlived them it would read deleted ones.
    assert not shiboken6.isValid(builder.counter.timer)


def test_segment_builder_counts_live(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    builder = SegmentBuilder(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(builder)
    builder.show()
    qtbot.waitUntil(lambda: builder.count_label.text() == "6 contacts match · 6 can be mailed")
    rule = builder.root.add_rule()
    rule.set_rule("field:score", ">=", "7")
    qtbot.waitUntil(lambda: builder.count_label.text().startswith("3 contacts match"))
    group = builder.root.add_group()
    group.match.setCurrentIndex(group.match.findData("any"))
    group.add_rule().set_rule("email", "ends_with", "@c.org")
    group.add_rule().set_rule("first_name", "equals", "ann")
    qtbot.waitUntil(lambda: builder.count_label.text().startswith("2 contacts match"))
    builder.resize(900, 420)
    builder.grab().save(str(artifacts / "segment-builder.png"))
    rule.set_rule("field:score", ">=", "many")
    qtbot.waitUntil(lambda: "not a number" in builder.count_label.text())
    rule.set_rule("field:score", "is_empty", None)
    qtbot.waitUntil(lambda: builder.count_label.text().startswith("0 contacts match"))
    with qtbot.waitSignal(builder.saved):
        builder.save_as("Unscored")
    saved_rules = builder.rules()
    builder.root.load({"match": "all", "rules": []})
    qtbot.waitUntil(lambda: builder.count_label.text().startswith("6 contacts match"))
    index = builder.picker.findText("Unscored")
    builder.picker.activated.emit(index)
    assert builder.rules() == saved_rules
    qtbot.waitUntil(lambda: builder.count_label.text().startswith("0 contacts match"))


def test_suppression_page_add_and_remove(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    page = SuppressionPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.show()
    qtbot.keyClicks(page.address, "Bob@A.org")  # type: ignore[no-untyped-call]
    page.add_address()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    item = page.table.item(0, 0)
    assert item is not None and item.text() == "Bob@a.org"
    qtbot.keyClicks(page.address, "bob@a.org")  # type: ignore[no-untyped-call]
    page.add_address()
    qtbot.waitUntil(lambda: page.table.rowCount() == 2)
    assert emails(sqlite_engine, ws)["bob@a.org"] == "unsubscribed"
    page.grab().save(str(artifacts / "suppression.png"))
    page.table.selectRow(0)
    page.remove_selected()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    source = write_csv(tmp_path / "in.csv", [["email"], ["x@y.org"], ["bad"], ["Bob@a.org"]])
    page.import_file(source)
    qtbot.waitUntil(lambda: page.status.text().startswith("Imported"))
    assert page.status.text() == "Imported 1 new, refused 1 that is not an address"
    assert page.table.rowCount() == 2
    out = tmp_path / "supp.csv"
    page.export_file(out)
    qtbot.waitUntil(lambda: page.status.text().startswith("Exported"))
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines] == ["email", "x@y.org", "Bob@a.org"]


def test_contacts_view_on_a_million_rows(
    qtbot: QtBot, sqlite_engine: Engine, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        # A million rows straight in SQL: the view is under test here, not the importer.
        conn.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) "
            "INSERT INTO contacts (workspace_id, email, email_key, first_name, last_name, status, "
            "fields, created_at, updated_at) SELECT :ws, printf('u%07d@example.com', i), "
            "printf('u%07d@example.com', i), 'F', 'L', "
            "'subscribed', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM n"
        ), {"ws": ws})  # fmt: skip
    page = ContactsPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(900, 600)
    page.show()
    qtbot.waitUntil(lambda: page.count_label.text() == "1,000,000 contacts", timeout=60_000)
    assert page.model.index(0, 0).data() == "u0000001@example.com"
    page.table.scrollToBottom()
    qtbot.waitUntil(
        lambda: page.model.index(999_999, 0).data() == "u1000000@example.com", timeout=60_000
    )
    # The view holds a few pages, never the table: the speed this buys is the bench's to
    # measure, since wall-clock bounds here would fail on a loaded machine.
    assert page.model.pager.max_pages * page.model.pager.page_size < 20_000
    # A far jump, like every page read, fills in from the background: the GUI thread waits
    # for nothing.
    middle = page.model.index(500_123, 0)
    assert middle.data() == "…"
    qtbot.waitUntil(lambda: middle.data() == "u0500124@example.com", timeout=60_000)
    page.grab().save(str(artifacts / "contacts-1m-bottom.png"))


def test_export_privacy_export_and_erase_from_the_contacts_page(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    page = seeded_page(qtbot, sqlite_engine, ws)
    page.search.setText("@b.org")
    page.apply_filter()
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts")
    out = tmp_path / "b.csv"
    with qtbot.waitSignal(page.exported) as blocker:
        page.export_to(out)
    assert blocker.args == [2]
    assert [line.split(",")[0] for line in out.read_text(encoding="utf-8-sig").splitlines()] == [
        "email", "cy@b.org", "di@b.org"]  # fmt: skip
    page.table.selectRow(0)
    record = tmp_path / "cy.json"
    with qtbot.waitSignal(page.exported):
        page.privacy_export_to(record)
    assert '"email": "cy@b.org"' in record.read_text()
    page.erase_selected(confirm=False)
    qtbot.waitUntil(lambda: page.count_label.text() == "1 contact")
    assert "cy@b.org" not in emails(sqlite_engine, ws)
    page.search.setText("")
    page.apply_filter()
    qtbot.waitUntil(lambda: page.count_label.text() == "5 contacts")


def test_a_filter_chosen_while_a_sort_is_loading_keeps_the_sort(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    with sqlite_engine.begin() as conn:
        ids = {email: cid for email, cid in conn.execute(text("SELECT email, id FROM contacts"))}
        list_id = conn.scalar(text("SELECT id FROM lists"))
        contacts.add_to_list(conn, ws, [ids["cy@b.org"], ids["ed@c.org"]], list_id)
    page = seeded_page(qtbot, sqlite_engine, ws)
    # No wait between them: the filter's reload starts while the sort's is still counting.
    page.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    page.list_filter.setCurrentIndex(page.list_filter.findText("Friends"))
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts")  # its first page with it
    assert [page.model.index(r, 1).data() for r in range(2)] == ["Ed", "Cy"]


def test_sort_by_header_and_filter_by_list(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path
) -> None:
    ws = seed(sqlite_engine, tmp_path)
    with sqlite_engine.begin() as conn:
        ids = {email: cid for email, cid in conn.execute(text("SELECT email, id FROM contacts"))}
        list_id = conn.scalar(text("SELECT id FROM lists"))
        contacts.add_to_list(conn, ws, [ids["cy@b.org"], ids["ed@c.org"]], list_id)
    page = seeded_page(qtbot, sqlite_engine, ws)
    page.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: page.model.index(0, 1).data() == "Ed")
    assert [page.model.index(r, 1).data() for r in range(6)] == [
        "Ed", "Di", "Cy", "Bob", "Anna", "Ann"]  # fmt: skip
    page.list_filter.setCurrentIndex(page.list_filter.findText("Friends"))
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts")
    assert [page.model.index(r, 0).data() for r in range(2)] == ["ed@c.org", "cy@b.org"]

"""Management a marketer expects, through the app's window: the field manager, adding and
editing one contact, lists and segments renamed and deleted, the merge-tag picker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert, select

from mailfleet.desktop.db.models import Campaign, CampaignState, Contact, FieldType
from mailfleet.desktop.services import contacts, segments, templates
from mailfleet.desktop.services.campaigns import Audience
from mailfleet.desktop.services.fields import create_field, find_field, list_fields
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace, lists
from mailfleet.desktop.ui.contact_dialog import ContactDialog
from mailfleet.desktop.ui.field_manager import FieldManager
from mailfleet.desktop.ui.list_manager import ListManager
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import QMessageBox, Qt
from tests.desktop.fleetkit import answer, close, open_window


def cell(table: Any, row: int, column: int) -> str:
    item = table.item(row, column)
    return "" if item is None else str(item.text())


def question(box: QMessageBox | None) -> str:
    assert box is not None
    return box.text() + "\n" + box.informativeText()


def shot(box: QMessageBox | None, path: Path) -> None:
    assert box is not None
    box.grab().save(str(path))


def seed(engine: Engine) -> int:
    """A workspace with a text field "Plan" held by three contacts (one value is not a number),
    a segment and a template that use it, and a list."""
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        create_field(conn, ws, "Plan", FieldType.TEXT)
        vip = create_list(conn, ws, "VIP")
        for email, plan in (("ann@a.org", "12"), ("bob@b.org", "gold"), ("cy@c.org", "7")):
            conn.execute(insert(Contact).values(workspace_id=ws, email=email,
                                                fields={"plan": plan}))  # fmt: skip
        ann = conn.scalar(select(Contact.id).where(Contact.email == "ann@a.org"))
        assert ann is not None
        contacts.add_to_list(conn, ws, [ann], vip)
        segments.save(conn, ws, "On a plan", {"match": "all", "rules": [
            {"field": "field:plan", "op": "is_not_empty", "value": None}]})  # fmt: skip
        templates.save(conn, ws, "Welcome", "Your {{ plan }} plan", "<p>{{ plan }}</p>", "")
    return ws


def fields_of(engine: Engine, ws: int) -> dict[str, FieldType]:
    with engine.connect() as conn:
        return {f.key: f.type for f in list_fields(conn, ws)}


def values_of(engine: Engine, ws: int) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Contact.email, Contact.fields).where(Contact.workspace_id == ws))
        return {email: dict(values) for email, values in rows}


def field_manager(qtbot: QtBot, window: MainWindow) -> FieldManager:
    window.go("Contacts")
    window.contacts.fields_button.click()
    manager = window.contacts.findChild(FieldManager)
    assert manager is not None
    qtbot.waitUntil(lambda: manager.table.rowCount() > 0 and manager.isVisible())
    return manager


def test_the_field_manager_adds_renames_retypes_and_deletes(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    engine = sqlite_engine
    ws = seed(engine)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    manager = field_manager(qtbot, window)
    assert [cell(manager.table, 0, c) for c in range(4)] == [
        "Plan", "{{ plan }}", "Text", "3"]  # fmt: skip

    manager.label.setText("Signup date")
    manager.type.setCurrentIndex(manager.type.findText("Date"))
    manager.add_button.click()
    qtbot.waitUntil(lambda: manager.table.rowCount() == 2)
    assert fields_of(engine, ws) == {"plan": FieldType.TEXT, "signup_date": FieldType.DATE}
    assert "merge tag {{ signup_date }}" in manager.message.text()
    manager.grab().save(str(artifacts / "field-manager.png"))

    manager.select("plan")
    manager.label.setText("Tier")
    manager.rename_button.click()
    qtbot.waitUntil(lambda: manager.confirm is not None and manager.confirm.isVisible())
    asked = question(manager.confirm)
    for expected in ("Rename Plan to Tier?", "3 contacts' values", "the segment “On a plan”",
                     "the template “Welcome”", "{{ tier }}"):  # fmt: skip
        assert expected in asked
    shot(manager.confirm, artifacts / "field-manager-rename.png")
    answer(manager.confirm, "Rename")
    qtbot.waitUntil(lambda: "tier" in fields_of(engine, ws))
    assert values_of(engine, ws)["bob@b.org"] == {"tier": "gold"}
    with engine.connect() as conn:
        welcome = templates.list_templates(conn, ws)[0]
        assert (welcome.subject, welcome.html) == ("Your {{ tier }} plan", "<p>{{ tier }}</p>")
        assert segments.saved(conn, ws)[0][2]["rules"][0]["field"] == "field:tier"

    qtbot.waitUntil(lambda: cell(manager.table, 0, 1) == "{{ tier }}")
    manager.select("tier")
    manager.type.setCurrentIndex(manager.type.findText("Number"))
    manager.retype_button.click()
    qtbot.waitUntil(lambda: manager.confirm is not None and "number" in manager.confirm.text())
    asked = question(manager.confirm)
    assert "2 values will be converted" in asked
    assert "1 value cannot be read as number (such as “gold”) and will be emptied" in asked
    shot(manager.confirm, artifacts / "field-manager-retype.png")
    answer(manager.confirm, "Change type")
    qtbot.waitUntil(lambda: fields_of(engine, ws)["tier"] is FieldType.NUMBER)
    values = values_of(engine, ws)
    assert (values["ann@a.org"], values["bob@b.org"]) == ({"tier": 12.0}, {})
    qtbot.waitUntil(lambda: "1 value emptied" in manager.message.text())

    qtbot.waitUntil(lambda: cell(manager.table, 0, 2) == "Number")
    manager.select("tier")
    manager.delete_button.click()
    qtbot.waitUntil(lambda: manager.confirm is not None and "Delete" in manager.confirm.text())
    asked = question(manager.confirm)
    for expected in ("Delete the field Tier?", "2 contacts have a value", "“On a plan”",
                     "“Welcome”", "{{ tier }}"):  # fmt: skip
        assert expected in asked
    shot(manager.confirm, artifacts / "field-manager-delete.png")
    answer(manager.confirm, "Keep it")
    assert "tier" in fields_of(engine, ws)
    manager.delete_button.click()
    qtbot.waitUntil(lambda: manager.confirm is not None and manager.confirm.isVisible())
    answer(manager.confirm, "Delete field")
    qtbot.waitUntil(lambda: "tier" not in fields_of(engine, ws))
    assert values_of(engine, ws)["ann@a.org"] == {}
    qtbot.waitUntil(lambda: manager.table.rowCount() == 1)
    close(qtbot, window)


def test_a_type_change_a_segment_rule_cannot_follow_is_refused_with_its_name(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path
) -> None:
    engine = sqlite_engine
    ws = seed(engine)
    with engine.begin() as conn:
        segments.save(conn, ws, "Gold", {"match": "all", "rules": [
            {"field": "field:plan", "op": "equals", "value": "gold"}]})  # fmt: skip
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    manager = field_manager(qtbot, window)
    manager.select("plan")
    manager.type.setCurrentIndex(manager.type.findText("Number"))
    manager.retype_button.click()
    qtbot.waitUntil(lambda: "“Gold” has a rule on Plan" in manager.message.text())
    assert manager.confirm is None
    assert fields_of(engine, ws)["plan"] is FieldType.TEXT
    close(qtbot, window)


def test_the_merge_tag_picker_shows_fields_added_since_the_app_started(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    engine = sqlite_engine
    ws = seed(engine)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Templates")
    tags = window.templates.tags
    qtbot.waitUntil(lambda: tags.findText("plan") >= 0)
    window.go("Contacts")
    with engine.begin() as conn:  # what an import that adds a column does
        create_field(conn, ws, "Loyalty points", FieldType.NUMBER)
    window.go("Templates")
    qtbot.waitUntil(lambda: tags.findText("loyalty_points") >= 0)
    tags.setCurrentIndex(tags.findText("loyalty_points"))
    window.templates.insert_tag()
    assert "{{ loyalty_points }}" in window.templates.html.toPlainText()
    window.grab().save(str(artifacts / "templates-new-merge-tag.png"))
    close(qtbot, window)


def open_dialog(qtbot: QtBot, window: MainWindow) -> ContactDialog:
    editor = window.contacts.editor
    qtbot.waitUntil(lambda: editor.dialog is not None and editor.dialog.isVisible())
    assert editor.dialog is not None
    return editor.dialog


def test_add_a_contact_then_edit_it_by_double_click(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    engine = sqlite_engine
    ws = seed(engine)
    with engine.begin() as conn:
        create_field(conn, ws, "Vip", FieldType.BOOLEAN)
        create_field(conn, ws, "Visits", FieldType.NUMBER)
        vip = next(i for i, n in lists(conn, ws) if n == "VIP")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    page = window.contacts
    qtbot.waitUntil(lambda: page.count_label.text() == "3 contacts")
    page.new_button.click()
    dialog = open_dialog(qtbot, window)
    dialog.email.setText("  Dee.Kay@Example.COM ")
    dialog.first_name.setText("Dee")
    dialog.field_edits["visits"].setText("many")
    dialog.field_flags["vip"].setCurrentIndex(dialog.field_flags["vip"].findText("Yes"))
    assert dialog.lists is not None
    dialog.lists.item(0).setCheckState(Qt.CheckState.Checked)
    dialog.save_button.click()
    assert dialog.error.text() == "⚠ Visits: 'many' is not a number"  # nothing saved yet
    dialog.field_edits["visits"].clear()
    qtbot.keyClicks(dialog.field_edits["visits"], "3")  # type: ignore[no-untyped-call]
    assert dialog.error.text() == ""  # the complaint went with the typing
    dialog.grab().save(str(artifacts / "contact-add.png"))
    dialog.save_button.click()
    qtbot.waitUntil(lambda: page.count_label.text() == "4 contacts")
    window.grab().save(str(artifacts / "contacts-page-manage.png"))
    with engine.connect() as conn:
        cid = contacts.find_mailbox(conn, ws, "dee.kay@example.com")
        assert cid is not None
        found = contacts.get_contact(conn, ws, cid)
    assert found["email"] == "Dee.Kay@example.com"
    assert found["fields"] == {"vip": True, "visits": 3.0}
    assert found["lists"] == [vip]

    # Another spelling of that mailbox opens the contact that exists.
    page.new_button.click()
    again = open_dialog(qtbot, window)
    again.email.setText("DEE.KAY@example.com")
    again.save_button.click()
    qtbot.waitUntil(lambda: page.editor.dialog is not again and page.editor.dialog is not None
                    and page.editor.dialog.isVisible())  # fmt: skip
    existing = open_dialog(qtbot, window)
    assert existing.windowTitle() == "Dee.Kay@example.com"
    assert existing.error.text() == "DEE.KAY@example.com is already a contact: here it is."
    assert existing.first_name.text() == "Dee"
    existing.grab().save(str(artifacts / "contact-existing.png"))
    existing.reject()

    page.search.setText("dee")
    qtbot.waitUntil(lambda: page.count_label.text() == "1 contacts"
                    or page.count_label.text() == "1 contact")  # fmt: skip
    qtbot.waitUntil(lambda: page.model.index(0, 0).data() == "Dee.Kay@example.com")
    view = page.table.viewport()
    point = page.table.visualRect(page.model.index(0, 0)).center()
    # A view takes a double click only on the row it was pressed on, as a real one is.
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)  # type: ignore[no-untyped-call]
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point)  # type: ignore[no-untyped-call]
    edit = open_dialog(qtbot, window)
    assert edit.email.isReadOnly() and edit.field_edits["visits"].text() == "3"
    edit.last_name.setText("Kay")
    assert edit.lists is not None
    edit.lists.item(0).setCheckState(Qt.CheckState.Unchecked)
    edit.save_button.click()
    qtbot.waitUntil(lambda: not edit.isVisible())
    with engine.connect() as conn:
        after = contacts.get_contact(conn, ws, cid)
    assert (after["last_name"], after["lists"]) == ("Kay", [])
    close(qtbot, window)


def test_lists_are_renamed_and_deleted_without_their_contacts(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    engine = sqlite_engine
    ws = seed(engine)
    with engine.begin() as conn:
        spare = create_list(conn, ws, "Spare")
        conn.execute(insert(Campaign).values(
            workspace_id=ws, name="Autumn", state=CampaignState.DRAFT.value,
            audience=Audience(lists=(spare,)).to_json(), subject="s", from_address="a@b.org",
            key_prefix="x"))  # fmt: skip
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Contacts")
    window.contacts.lists_button.click()
    manager = window.contacts.findChild(ListManager)
    assert manager is not None
    qtbot.waitUntil(lambda: manager.table.rowCount() == 2)
    manager.select("VIP")
    manager.name.setText("Best customers")
    manager.rename_button.click()
    qtbot.waitUntil(lambda: cell(manager.table, 0, 0) == "Best customers")
    # The contacts page offers the new name among its filters.
    qtbot.waitUntil(lambda: window.contacts.list_filter.findText("Best customers") >= 0)
    manager.grab().save(str(artifacts / "list-manager.png"))

    manager.select("Spare")
    manager.delete_button.click()
    qtbot.waitUntil(lambda: "“Autumn”" in manager.message.text())
    assert "draft campaign" in manager.message.text() and manager.confirm is None

    manager.select("Best customers")
    manager.delete_button.click()
    qtbot.waitUntil(lambda: manager.confirm is not None and manager.confirm.isVisible())
    asked = question(manager.confirm)
    assert "Delete the list Best customers?" in asked
    assert "1 contact is on it. No contact is deleted: only the list goes." in asked
    shot(manager.confirm, artifacts / "list-manager-delete.png")
    answer(manager.confirm, "Delete list")
    qtbot.waitUntil(lambda: manager.table.rowCount() == 1)
    with engine.connect() as conn:
        assert [n for _, n in lists(conn, ws)] == ["Spare"]
    assert len(values_of(engine, ws)) == 3
    close(qtbot, window)


def test_segments_are_renamed_and_deleted_from_the_segments_page(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    engine = sqlite_engine
    ws = seed(engine)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Segments")
    builder = window.segments
    qtbot.waitUntil(lambda: builder.picker.findText("On a plan") >= 0)
    index = builder.picker.findText("On a plan")
    builder.picker.setCurrentIndex(index)
    builder.picker.activated.emit(index)  # what choosing it with the mouse does
    qtbot.waitUntil(lambda: "3 contacts match" in builder.count_label.text())
    assert builder.rename_button.isEnabled()
    builder.rename_button.click()
    asking = builder.asking
    assert asking is not None and not isinstance(asking, QMessageBox)
    asking.setTextValue("Planners")
    asking.accept()
    qtbot.waitUntil(lambda: builder.picker.currentText() == "Planners")
    window.grab().save(str(artifacts / "segments-renamed.png"))
    with engine.connect() as conn:
        assert [n for _, n, _ in segments.saved(conn, ws)] == ["Planners"]

    builder.delete_button.click()
    qtbot.waitUntil(lambda: isinstance(builder.asking, QMessageBox) and builder.asking.isVisible())
    assert isinstance(builder.asking, QMessageBox)
    assert "No contact is deleted" in question(builder.asking)
    builder.asking.grab().save(str(artifacts / "segments-delete.png"))
    answer(builder.asking, "Delete segment")
    qtbot.waitUntil(lambda: builder.picker.findText("Planners") < 0)
    with engine.connect() as conn:
        assert segments.saved(conn, ws) == []
        assert find_field(conn, ws, "plan") is not None
    assert len(values_of(engine, ws)) == 3
    close(qtbot, window)

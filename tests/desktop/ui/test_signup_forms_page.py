"""The Signup forms page against a real agent: a form designed and published in the real
window, filled in over HTTP like a browser, confirmed from the capture mailbox, and the
contact confirmed on the form's list with its consent record in the desktop."""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, select

from mailfleet.desktop.agents import signup_push
from mailfleet.desktop.db.models import ConsentRecord, Contact, FieldType, ListMembership
from mailfleet.desktop.services import signup_forms
from mailfleet.desktop.services.fields import create_field
from mailfleet.desktop.services.signup_forms import FormDesign
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from mailfleet.desktop.ui.qt import QApplication, Qt, QTableWidget, QTableWidgetItem
from tests.agent.signup.helpers import Page, confirmation_link
from tests.desktop.fleetkit import answer, close, open_window, pair
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess

# People fill a form in seconds; this test in no time (the time token's checks are the agent's).
_CONFIG = "[signup]\nmin_fill_seconds = 0\nposts_per_minute = 1000\n"


def _http(url: str, data: dict[str, str] | None = None) -> Page:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body)  # noqa: S310 (the test agent's http URL)
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
        return Page(reply.status, reply.read().decode())


def _cell(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    item = table.item(row, column)
    assert item is not None
    return item


def _tick(view: Any, text: str) -> None:
    for i in range(view.count()):
        if view.item(i).text() == text:
            view.item(i).setCheckState(Qt.CheckState.Checked)


def test_a_form_designed_here_collects_a_confirmed_contact(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    qsettings: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    proc = agent_factory(_CONFIG)
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        news = create_list(conn, ws, "News")
        create_list(conn, ws, "Offers")
        create_field(conn, ws, "City", FieldType.TEXT)
    pair(engine, ws, proc, "shop agent")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Signup forms")
    page = window.signup_forms
    editor = page.editor
    qtbot.waitUntil(lambda: editor.lists.count() == 2 and editor.agents.count() == 1)
    assert page.empty.isVisible()
    page.grab().save(str(artifacts / "signup-forms-empty.png"))

    page.new()
    assert editor.double_opt_in.isChecked()
    assert "{{ confirm_url }}" in editor.body.toPlainText()
    editor.name.setText("Newsletter")
    _tick(editor.lists, "News")
    rows = [_cell(editor.fields, r, 0).text() for r in range(editor.fields.rowCount())]
    assert rows == ["Email (always)", "First name · Text",
                    "Last name · Text", "City · Text"]  # fmt: skip
    _cell(editor.fields, 1, 1).setCheckState(Qt.CheckState.Checked)
    _cell(editor.fields, 1, 2).setCheckState(Qt.CheckState.Checked)
    _cell(editor.fields, 3, 1).setCheckState(Qt.CheckState.Checked)
    editor.consent.setPlainText("I want the shop's newsletter and can leave at any time.")
    editor.accent.setText("#aa3300")
    editor.language.setCurrentIndex(editor.language.findData("de"))

    page.save()  # no From address yet: refused in words, nothing stored
    qtbot.waitUntil(lambda: "Not saved" in page.message.text())
    assert "confirmation mail comes from" in page.message.text()

    editor.from_address.setText("news@shop.example")
    page.save()
    qtbot.waitUntil(lambda: page.url.text() != "", timeout=30_000)
    assert page.url.text().startswith(f"{proc.http_url}/f/f")
    assert "<iframe" in page.snippet.toPlainText()
    assert "shop agent: published." in page.status.text()
    assert editor.version.text().startswith("Version 1 (")
    page.copy_url.click()
    assert QApplication.clipboard().text() == page.url.text()
    page.grab().save(str(artifacts / "signup-forms-editor.png"))

    shown = _http(page.url.text())
    assert "#aa3300" in shown.text and "Vorname" not in shown.text  # our labels, German page
    done = _http(page.url.text(), {"email": "anna@shop.example", "first_name": "Anna",
                                   "city": "Köln", "consent": "1", "t": shown.token,
                                   "website": ""})  # fmt: skip
    assert done.status == 200 and not done.problems

    def contact() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                select(Contact).where(Contact.email_key == "anna@shop.example")
            ).first()

    window.sync.sync_signups()
    qtbot.waitUntil(lambda: contact() is not None, timeout=30_000)
    assert contact().status == "unconfirmed"

    link = confirmation_link(proc.stubs(), "anna@shop.example")
    confirmed = _http(link, {})
    assert confirmed.status == 200
    window.sync.sync_signups()
    qtbot.waitUntil(lambda: contact().status == "subscribed", timeout=30_000)
    row = contact()
    assert (row.first_name, row.fields) == ("Anna", {"city": "Köln"})
    with engine.connect() as conn:
        lists = conn.scalars(
            select(ListMembership.list_id).where(ListMembership.contact_id == row.id)
        ).all()
        (record,) = conn.execute(select(ConsentRecord)).all()
    assert list(lists) == [news]
    assert record.status == "confirmed" and record.consent_version == "1"
    assert record.consent_text == "I want the shop's newsletter and can leave at any time."
    assert record.confirmed_at is not None and record.confirm_ip == "127.0.0.1"

    window.go("Contacts")  # the contact's consent history, as the marketer sees it
    window.contacts.editor.edit(row.id)
    qtbot.waitUntil(lambda: window.contacts.editor.dialog is not None)
    dialog = window.contacts.editor.dialog
    assert dialog is not None
    assert dialog.status.currentData() == "subscribed"
    line = dialog.consent.text()
    assert line.startswith("Signed up on form Newsletter ")
    assert "from 127.0.0.1, consent text version 1; confirmed " in line
    dialog.grab().save(str(artifacts / "signup-contact-consent.png"))
    dialog.reject()
    close(qtbot, window)


def test_a_form_saved_while_its_agent_is_down_is_published_when_it_is_back(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    qsettings: Any,
    tmp_path: Path,
) -> None:
    proc = agent_factory(_CONFIG)
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        create_list(conn, ws, "News")
    pair(sqlite_engine, ws, proc, "shop agent")
    window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
    window.go("Signup forms")
    page, editor = window.signup_forms, window.signup_forms.editor
    qtbot.waitUntil(lambda: editor.lists.count() == 1 and editor.agents.count() == 1)
    proc.terminate()
    page.new()
    editor.name.setText("Newsletter")
    _tick(editor.lists, "News")
    editor.from_address.setText("news@shop.example")
    page.save()
    qtbot.waitUntil(lambda: "cannot be reached" in page.status.text(), timeout=60_000)
    assert "The form is saved and will be published there when the agent is back." in (
        page.status.text()
    )
    assert page.list.count() == 1 and page.url.text() == ""
    assert not page.copy_url.isEnabled()

    proc.start()
    window.sync.sync_signups()
    qtbot.waitUntil(lambda: "shop agent: published." in page.status.text(), timeout=60_000)
    assert page.url.text().startswith(f"{proc.http_url}/f/")
    assert _http(page.url.text()).status == 200
    close(qtbot, window)


def _status(url: str) -> int:
    try:
        return _http(url).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_deleted_form_is_taken_down_on_its_agents(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    qsettings: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    proc = agent_factory(_CONFIG)
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        news = create_list(conn, ws, "News")
    record = pair(engine, ws, proc, "shop agent")
    design = FormDesign(name="Old newsletter", list_ids=[news], agent_ids=[record.id],
                        from_address="news@shop.example")  # fmt: skip
    with engine.begin() as conn:
        form_pk = signup_forms.save(conn, ws, design)
    assert signup_push.push(engine, ws, record, threading.Event()).pushed == ["Old newsletter"]
    with engine.connect() as conn:
        url = signup_forms.get(conn, ws, form_pk).url
    assert _status(url) == 200

    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Signup forms")
    page = window.signup_forms
    qtbot.waitUntil(lambda: page.list.count() == 1)
    assert not page.delete_button.isEnabled()  # nothing open yet
    page.list.setCurrentRow(0)
    assert page.delete_button.isEnabled()
    page.grab().save(str(artifacts / "signup-forms-delete.png"))
    page.delete_button.click()
    qtbot.waitUntil(lambda: page.confirm is not None and page.confirm.isVisible())
    assert page.confirm is not None
    asked = page.confirm.text() + "\n" + page.confirm.informativeText()
    assert "Delete the form “Old newsletter”?" in asked
    assert "hosted page and its confirmation links stop answering" in asked
    assert "The contacts it collected stay" in asked
    page.confirm.grab().save(str(artifacts / "signup-forms-delete-confirm.png"))
    answer(page.confirm, "Delete form")

    qtbot.waitUntil(lambda: page.list.count() == 0)
    assert page.empty.isVisible() and not page.delete_button.isEnabled()
    qtbot.waitUntil(lambda: _status(url) == 404, timeout=30_000)
    with engine.connect() as conn:
        assert signup_forms.deletions_for(conn, record.id) == []  # the agent took it down
    close(qtbot, window)

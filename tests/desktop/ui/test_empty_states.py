"""Empty pages say what to do first, with a button that does it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.import_wizard import ImportWizard
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.templates_page import NO_TEMPLATES
from tests.desktop.fleetkit import seed_contacts


def test_a_new_workspace_says_what_to_do_first_on_each_empty_page(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    window = MainWindow(sqlite_engine, ws, "Default", qsettings)
    qtbot.addWidget(window)
    window.show()
    contacts = window.contacts
    qtbot.waitUntil(contacts.empty.isVisible)
    assert "No contacts yet" in contacts.empty.label.text()
    window.grab().save(str(artifacts / "empty-contacts.png"))
    contacts.empty.button.click()
    wizards = [w for w in window.findChildren(ImportWizard) if w.isVisible()]
    assert len(wizards) == 1
    wizards[0].close()

    # A search that finds nobody is not an empty workspace.
    contacts.search.setText("nobody")
    contacts.apply_filter()
    qtbot.waitUntil(lambda: contacts.count_label.text() == "0 contacts")
    assert not contacts.empty.isVisible()
    contacts.search.setText("")
    contacts.apply_filter()
    qtbot.waitUntil(contacts.empty.isVisible)

    window.go("Templates")
    qtbot.waitUntil(window.templates.empty.isVisible)
    assert window.templates.empty.label.text() == NO_TEMPLATES
    window.grab().save(str(artifacts / "empty-templates.png"))
    window.templates.name.setText("half-written")
    window.templates.empty.button.click()  # starts a new, empty template
    assert window.templates.current_id is None and window.templates.name.text() == ""

    window.go("Campaigns")
    qtbot.waitUntil(window.campaigns.empty.isVisible)
    window.grab().save(str(artifacts / "empty-campaigns.png"))
    window.campaigns.empty.button.click()  # no agent yet: the page says to pair one first
    assert "Pair an agent" in window.campaigns.message.text()

    # Contacts arrive (an import): the page shows them instead.
    seed_contacts(sqlite_engine, ws, 3)
    window.go("Contacts")
    window.refresh()
    qtbot.waitUntil(lambda: contacts.count_label.text() == "3 contacts")
    assert not contacts.empty.isVisible()
    window.close()
    window.runner.wait()

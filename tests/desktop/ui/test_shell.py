"""The main window: pages, shortcuts, remembered geometry, screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.import_wizard import ImportWizard
from mailfleet.desktop.ui.main_window import LATER_SHORTCUTS, PAGES, SHORTCUT_PAGES, MainWindow
from mailfleet.desktop.ui.qt import QLabel, Qt
from mailfleet.desktop.ui.simple_pages import DATABASE_URL_KEY
from tests.desktop.importing import emails, import_file, plan_for, write_csv


def make_window(qtbot: QtBot, engine: Engine, settings: Any) -> MainWindow:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    window = MainWindow(engine, ws, "Default", settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.contacts.count_label.text().endswith("contacts"))
    return window


def test_every_page_is_reachable_by_its_shortcut(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path, tmp_path: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    rows = [["email", "first", "last"]] + [[f"p{i}@example.com", f"Pat{i}", "Lee"]
                                           for i in range(30)]  # fmt: skip
    import_file(sqlite_engine, plan_for(write_csv(tmp_path / "a.csv", rows), ws,
                                        ("email", "first_name", "last_name")))  # fmt: skip
    window = make_window(qtbot, sqlite_engine, qsettings)
    assert sorted(window.sidebar.pages()) == sorted(PAGES)
    assert set(PAGES) - set(SHORTCUT_PAGES) == set(LATER_SHORTCUTS)
    for number, name in enumerate(SHORTCUT_PAGES, start=1):
        qtbot.keyClick(window, Qt.Key.Key_0 + number, Qt.KeyboardModifier.ControlModifier)  # type: ignore[no-untyped-call]
        assert window.stack.currentIndex() == PAGES.index(name)
        page = window.stack.currentWidget()
        assert page is not None
        if name in ("Dashboard", "Templates", "Campaigns", "Analytics", "Agents", "Settings"):
            headings = " ".join(label.text() for label in page.findChildren(QLabel))
            assert f"<h2>{name}</h2>" in headings
        qtbot.wait(50)
        window.grab().save(str(artifacts / f"{number}-{name.lower()}.png"))
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    for name, keys in LATER_SHORTCUTS.items():
        assert keys.startswith("Ctrl+Shift+")
        key = getattr(Qt.Key, f"Key_{keys[-1]}")
        qtbot.keyClick(window, key, ctrl_shift)  # type: ignore[no-untyped-call]
        assert window.stack.currentIndex() == PAGES.index(name)
    window.go("Contacts")
    assert window.contacts.count_label.text() == "30 contacts"


def test_geometry_is_remembered(qtbot: QtBot, sqlite_engine: Engine, qsettings: Any) -> None:
    first = make_window(qtbot, sqlite_engine, qsettings)
    first.resize(820, 600)
    qtbot.wait(50)
    first.close()
    second = make_window(qtbot, sqlite_engine, qsettings)
    # The offscreen screen is 800 px wide and restoring clamps the width to it, so the height
    # (600, not the default 700) is what shows the geometry came back.
    assert second.height() == 600


def test_status_bar_shows_background_work(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    window.contacts.search.setText("nobody")
    window.contacts.apply_filter()
    assert window.busy_bar.isVisibleTo(window)
    assert window.busy_label.text() == "Counting contacts…"
    qtbot.waitUntil(lambda: window.busy_label.text() == "Ready")
    assert not window.busy_bar.isVisibleTo(window)


def test_settings_page_stores_the_database_url(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    window.go("Settings")
    page = window.settings_page
    page.url.setText(" postgresql+psycopg://team@db.example/mailfleet ")
    page.save()
    assert qsettings.value(DATABASE_URL_KEY) == "postgresql+psycopg://team@db.example/mailfleet"
    assert "restart" in page.saved.text()


def test_ctrl_i_opens_the_import_wizard(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # type: ignore[no-untyped-call]
    wizards = [w for w in window.findChildren(ImportWizard) if w.isVisible()]
    assert len(wizards) == 1
    wizards[0].close()


def test_closing_the_window_cancels_a_running_import(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path
) -> None:
    rows = [["email"]] + [[f"u{i}@example.com"] for i in range(200_000)]
    path = write_csv(tmp_path / "big.csv", rows)
    window = make_window(qtbot, sqlite_engine, qsettings)
    wizard = window.open_import()
    qtbot.waitUntil(lambda: wizard.ready)
    wizard.file_page.path.setText(str(path))
    wizard.next()
    wizard.next()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.run_page.progress.value() > 0, timeout=20_000)
    window.close()
    assert window.runner.wait()
    qtbot.waitUntil(lambda: wizard.run_page.report is not None)
    assert wizard.run_page.report is not None and wizard.run_page.report.cancelled
    assert emails(sqlite_engine, window.workspace_id) == {}


def test_the_menu_bar_shows_every_command_with_its_shortcut(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    bar = window.menuBar()
    assert bar.isVisible()
    titles = [a.text().replace("&", "") for a in bar.actions()]
    assert titles == ["File", "Edit", "View", "Campaign", "Help"]
    listed = window.shortcut_text()
    for keys, command in (("Ctrl+N", "New campaign…"), ("Ctrl+I", "Import contacts…"),
                          ("F5", "Refresh"), ("Ctrl+Q", "Quit"), ("Ctrl+F", "Find contacts…"),
                          ("Ctrl+9", "Settings")):  # fmt: skip
        assert f"{keys}\t{command}" in listed.splitlines()
    # Ctrl+N with no agent paired goes to Campaigns, which says what to do first.
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # type: ignore[no-untyped-call]
    assert window.stack.currentWidget() is window.campaigns
    assert "Pair an agent" in window.campaigns.message.text()
    window.grab().save(str(artifacts / "menu-bar.png"))
    view = window.menus[2]
    view.popup(bar.mapToGlobal(bar.actionGeometry(bar.actions()[2]).bottomLeft()))
    qtbot.waitUntil(view.isVisible)
    view.grab().save(str(artifacts / "menu-view.png"))
    view.close()
    box = window.show_shortcuts()
    qtbot.waitUntil(box.isVisible)
    box.grab().save(str(artifacts / "shortcuts.png"))
    box.close()

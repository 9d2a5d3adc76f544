"""The ``mailfleet-desktop`` entry point: opens (and migrates) the database, shows the window."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from mailfleet.desktop.app import open_window, parse_args
from mailfleet.desktop.db.engine import default_database_url
from mailfleet.desktop.db.models import Workspace


def test_default_database_is_sqlite_in_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_url() == f"sqlite:///{tmp_path / 'mailfleet' / 'desktop.sqlite3'}"
    assert (tmp_path / "mailfleet").is_dir()


def test_database_url_option() -> None:
    args = parse_args(["--database-url", "postgresql+psycopg://u@h/db", "--workspace", "Team"])
    assert (args.database_url, args.workspace) == ("postgresql+psycopg://u@h/db", "Team")


def test_window_opens_on_a_migrated_database_and_workspace(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # main() is open_window() plus the event loop; running a second event loop to its end
    # inside the test session would stop later tests' queued signals, so this drives the part
    # that does the work.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    window = open_window(parse_args(["--database-url", url, "--workspace", "Team A"]))
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle() == "Mailfleet — Team A"
    qtbot.waitUntil(lambda: window.contacts.count_label.text() == "0 contacts")
    with window.engine.connect() as conn:
        assert conn.scalar(select(Workspace.name)) == "Team A"
    window.close()
    window.runner.wait()
    window.engine.dispose()

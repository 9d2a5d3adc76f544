"""Fixtures for the desktop tests: databases (SQLite and a real PostgreSQL) and Qt settings."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Qt reads these when the QApplication is created, so they must be set before any test runs.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, create_engine

from mailfleet.desktop.db.engine import open_database
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.desktop.keyring_backend import FileKeyring, install
from tests.desktop.postgres import PostgresMissing, PostgresServer, start_postgres

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "desktop"

# pytest-qt gives up a wait after 5 s unless told otherwise. A wait returns as soon as its
# condition holds, so a longer limit costs nothing when things work, and a loaded machine
# (CI beside other jobs) must not turn a slow page read into a failure.
WAIT_MS = 30_000


@pytest.fixture
def qtbot(qtbot: QtBot) -> QtBot:
    """pytest-qt's qtbot, whose waits allow :data:`WAIT_MS` unless a test says otherwise."""
    for name in ("waitUntil", "waitSignal", "waitSignals", "waitCallback"):
        setattr(qtbot, name, functools.partial(getattr(qtbot, name), timeout=WAIT_MS))
    return qtbot


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session, stopped by PID at the end."""
    try:
        server = start_postgres()
    except PostgresMissing as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


def _postgres_engine(server: PostgresServer) -> Iterator[Engine]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = open_database(server.url.rsplit("/", 1)[0] + "/" + name)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "postgresql":
        yield from _postgres_engine(request.getfixturevalue("postgres"))
        return
    sqlite_engine = open_database(f"sqlite:///{tmp_path / 'desktop.sqlite3'}")
    yield sqlite_engine
    sqlite_engine.dispose()


@pytest.fixture
def postgres_engine(postgres: PostgresServer) -> Iterator[Engine]:
    """A migrated, empty database on the real PostgreSQL only (a team database)."""
    yield from _postgres_engine(postgres)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite database (for tests about the views, not the SQL dialect)."""
    engine = open_database(f"sqlite:///{tmp_path / 'desktop.sqlite3'}")
    yield engine
    engine.dispose()


@pytest.fixture
def workspace(engine: Engine) -> int:
    """The id of a fresh workspace in ``engine``."""
    with engine.begin() as conn:
        return ensure_workspace(conn, "Test")


@pytest.fixture
def secure_keyring(tmp_path: Path) -> Iterator[FileKeyring]:
    """A real keyring backend (a 0600 file) registered with ``keyring`` for one test."""
    import keyring

    before = keyring.get_keyring()
    yield install(tmp_path / "keyring.json")
    keyring.set_keyring(before)


@pytest.fixture
def artifacts() -> Path:
    """Where tests save screenshots for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def qsettings(tmp_path: Path) -> Any:
    """Window settings in a temporary INI file, never the user's."""
    from mailfleet.desktop.ui.qt import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)

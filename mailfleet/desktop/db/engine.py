"""Opening the database: engine setup, SQLite tuning and migrations applied at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

APP_NAME = "mailfleet"


def default_database_url() -> str:
    """The SQLite database in the user's data directory (created if missing)."""
    data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'desktop.sqlite3'}"


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the contacts view read while an import writes; foreign keys are off by default in
    # SQLite and the cascades depend on them; a busy timeout makes a second writer wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite connections get the pragmas the app relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that needs no ``alembic.ini``: migrations ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest migration."""
    command.upgrade(alembic_config(engine), "head")


def open_database(url: str) -> Engine:
    """Create the engine for ``url`` and apply pending migrations."""
    engine = make_engine(url)
    migrate(engine)
    return engine

"""Databases left at an older migration, for the tests of the migrations after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine

from mailfleet.desktop.db.engine import alembic_config, make_engine
from tests.desktop.postgres import PostgresServer


def engine_at(request: pytest.FixtureRequest, tmp_path: Path, revision: str) -> Iterator[Engine]:
    """An empty database migrated only up to ``revision``, on the dialect the test is
    parametrised with ("sqlite" or "postgresql"); dropped afterwards."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        command.upgrade(alembic_config(engine), revision)
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(server.url.rsplit("/", 1)[0] + "/" + name)
    command.upgrade(alembic_config(engine), revision)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()

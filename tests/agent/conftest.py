"""A migrated store file opened directly, for the tests of store-level functions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.agent.store.schema import migrate
from mailfleet.agent.store.tenants import create_tenant


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A real SQLite file at the current schema, in autocommit mode, with tenants 1 and 2."""
    db = sqlite3.connect(tmp_path / "agent.db", isolation_level=None)
    migrate(db)
    create_tenant(db, "one")
    create_tenant(db, "two")
    try:
        yield db
    finally:
        db.close()

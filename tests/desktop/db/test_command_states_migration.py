"""Revision 0007 on a database made by 0006: the new command states are accepted, unknown ones
still refused, existing campaigns keep their state, and the downgrade takes waiting commands as
done."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from mailfleet.desktop.db.engine import alembic_config, make_engine
from tests.desktop.postgres import PostgresServer

NOW = "2026-01-01 00:00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database migrated only up to revision 0006."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        command.upgrade(alembic_config(engine), "0006")
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(server.url.rsplit("/", 1)[0] + "/" + name)
    command.upgrade(alembic_config(engine), "0006")
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def _seed(conn: object) -> None:
    for statement in (
        "INSERT INTO workspaces (id, name, hash_salt, created_at) VALUES (1, 'W', 's', :t)",
        "INSERT INTO agents (id, workspace_id, name, host, port, fingerprint, key_ref, "
        "event_cursor, suppression_cursor, removal_cursor, created_at) "
        "VALUES (1, 1, 'Paris', 'h', 1, 'f', 'k', 0, 0, 0, :t)",
        "INSERT INTO campaigns (id, workspace_id, name, state, audience, subject, html, text, "
        "from_name, from_address, reply_to, throttle_per_minute, time_zone, key_prefix, "
        "recipients, created_at) VALUES (1, 1, 'C', 'sending', '{}', 's', '', 't', '', "
        "'a@b.c', '', 0, 'UTC', 'k', 0, :t)",
        "INSERT INTO campaign_parts (id, campaign_id, agent_id, weight, idempotency_key, "
        "agent_campaign_id, state, uploaded_through) VALUES (1, 1, 1, 1, 'k-1', 7, 'started', 0)",
    ):
        conn.execute(text(statement), {"t": NOW})  # type: ignore[attr-defined]


def _state(engine: Engine, table: str) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(text(f"SELECT state FROM {table} WHERE id = 1")))


def test_the_command_states_are_allowed_after_the_upgrade_and_undone_by_the_downgrade(
    old_engine: Engine,
) -> None:
    with old_engine.begin() as conn:
        _seed(conn)
    with pytest.raises(IntegrityError), old_engine.begin() as conn:
        conn.execute(text("UPDATE campaign_parts SET state = 'cancelling'"))
    command.upgrade(alembic_config(old_engine), "0007")
    assert (_state(old_engine, "campaigns"), _state(old_engine, "campaign_parts")) == (
        "sending",
        "started",
    )
    with old_engine.begin() as conn:
        conn.execute(text("UPDATE campaigns SET state = 'cancelling'"))
        for state in ("pausing", "paused", "resuming", "cancelling"):
            conn.execute(text("UPDATE campaign_parts SET state = :s"), {"s": state})
    with pytest.raises(IntegrityError), old_engine.begin() as conn:
        conn.execute(text("UPDATE campaign_parts SET state = 'maybe'"))
    with pytest.raises(IntegrityError), old_engine.begin() as conn:
        conn.execute(text("UPDATE campaigns SET state = 'pausing'"))

    command.downgrade(alembic_config(old_engine), "0006")
    assert (_state(old_engine, "campaigns"), _state(old_engine, "campaign_parts")) == (
        "cancelled",
        "cancelled",
    )
    with pytest.raises(IntegrityError), old_engine.begin() as conn:
        conn.execute(text("UPDATE campaign_parts SET state = 'paused'"))

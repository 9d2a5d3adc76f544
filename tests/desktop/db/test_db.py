"""The data layer on SQLite and PostgreSQL: migrations, constraints, workspace isolation."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from mailfleet.desktop.db.models import Base, Contact, ListMembership, MailingList
from mailfleet.desktop.services.workspaces import add_members, create_list, ensure_workspace


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_email_is_unique_per_workspace_but_not_across(engine: Engine) -> None:
    with engine.begin() as conn:
        first, second = ensure_workspace(conn, "A"), ensure_workspace(conn, "B")
        for ws in (first, second):
            conn.execute(insert(Contact).values(workspace_id=ws, email="a@example.com"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(Contact).values(workspace_id=first, email="a@example.com"))


def test_invalid_status_is_refused_by_the_database(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        ws = ensure_workspace(conn)
        conn.execute(insert(Contact).values(workspace_id=ws, email="a@x.org", status="maybe"))


def test_deleting_a_contact_removes_its_list_memberships(engine: Engine) -> None:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        list_id = create_list(conn, ws, "News")
        cid = conn.scalar(
            insert(Contact).values(workspace_id=ws, email="a@x.org").returning(Contact.id)
        )
        assert cid is not None
        add_members(conn, list_id, [cid, cid])
        assert conn.scalar(select(func.count()).select_from(ListMembership)) == 1
        conn.execute(delete(Contact).where(Contact.id == cid))
        assert conn.scalar(select(func.count()).select_from(ListMembership)) == 0
        assert conn.scalar(select(func.count()).select_from(MailingList)) == 1


def test_custom_field_values_round_trip_as_json(engine: Engine) -> None:
    values = {"score": 4.5, "vip": True, "joined": "2024-02-29", "city": "Zürich"}
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        conn.execute(insert(Contact).values(workspace_id=ws, email="a@x.org", fields=values))
        assert conn.scalar(select(Contact.fields)) == values

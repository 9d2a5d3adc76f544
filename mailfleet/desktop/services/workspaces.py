"""Workspaces (tenants) and their lists."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from mailfleet.desktop.db.models import ListMembership, MailingList, Workspace

DEFAULT_WORKSPACE = "Default"


def ensure_workspace(conn: Connection, name: str = DEFAULT_WORKSPACE) -> int:
    """The id of the workspace called ``name``, created if it does not exist yet."""
    found = conn.scalar(select(Workspace.id).where(Workspace.name == name))
    if found is not None:
        return int(found)
    created = conn.scalar(insert(Workspace).values(name=name).returning(Workspace.id))
    assert created is not None
    return int(created)


def find_workspace(conn: Connection, name: str) -> int | None:
    """The id of the workspace called ``name``, or None when there is none."""
    found = conn.scalar(select(Workspace.id).where(Workspace.name == name))
    return None if found is None else int(found)


def create_list(conn: Connection, workspace_id: int, name: str) -> int:
    """Create a list in the workspace and return its id."""
    new_id = conn.scalar(
        insert(MailingList).values(workspace_id=workspace_id, name=name).returning(MailingList.id)
    )
    assert new_id is not None
    return int(new_id)


def lists(conn: Connection, workspace_id: int) -> list[tuple[int, str]]:
    """The workspace's lists as (id, name), by name."""
    rows = conn.execute(
        select(MailingList.id, MailingList.name)
        .where(MailingList.workspace_id == workspace_id)
        .order_by(MailingList.name)
    )
    return [(list_id, name) for list_id, name in rows]


def list_in_workspace(conn: Connection, workspace_id: int, list_id: int) -> bool:
    """True if ``list_id`` is one of the workspace's lists (guards cross-tenant ids)."""
    found = conn.scalar(
        select(MailingList.id).where(
            MailingList.id == list_id, MailingList.workspace_id == workspace_id
        )
    )
    return found is not None


def add_members(conn: Connection, list_id: int, contact_ids: list[int]) -> None:
    """Add contacts to a list; contacts already on it are left as they are."""
    if not contact_ids:
        return
    rows = [{"contact_id": cid, "list_id": list_id} for cid in contact_ids]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(ListMembership).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(ListMembership).on_conflict_do_nothing(), rows)
    else:
        raise NotImplementedError(dialect)


def remove_members(conn: Connection, list_id: int, contact_ids: list[int]) -> None:
    """Take contacts off a list."""
    conn.execute(
        delete(ListMembership).where(
            ListMembership.list_id == list_id, ListMembership.contact_id.in_(contact_ids)
        )
    )

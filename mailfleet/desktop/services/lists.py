"""Managing lists: their sizes, renaming and deleting (the contacts stay)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select, update

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import Contact, ListMembership, MailingList
from mailfleet.desktop.services import audience_refs, workspaces
from mailfleet.desktop.services.audience_refs import AudienceUse


@dataclass(frozen=True)
class ListInfo:
    """A list and how many contacts are on it."""

    id: int
    name: str
    members: int


def with_counts(conn: Connection, workspace_id: int) -> list[ListInfo]:
    """The workspace's lists by name, each with its number of contacts."""
    members = (
        select(func.count())
        .where(ListMembership.list_id == MailingList.id)
        .correlate(MailingList)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(MailingList.id, MailingList.name, members)
        .where(MailingList.workspace_id == workspace_id)
        .order_by(MailingList.name)
    )
    return [ListInfo(i, n, int(m)) for i, n, m in rows]


def _own(conn: Connection, workspace_id: int, list_id: int) -> None:
    if not workspaces.list_in_workspace(conn, workspace_id, list_id):
        raise LookupError("that list no longer exists")


def _clean_name(conn: Connection, workspace_id: int, list_id: int | None, name: str) -> str:
    clean = name.strip()
    if not clean:
        raise ValueError("a list needs a name")
    taken = conn.scalar(
        select(MailingList.id).where(
            MailingList.workspace_id == workspace_id,
            MailingList.name == clean,
            MailingList.id != (list_id or 0),
        )
    )
    if taken is not None:
        raise ValueError(f"there is already a list called {clean}")
    return clean


def create(conn: Connection, workspace_id: int, name: str) -> int:
    """A new, empty list; a name already in use is refused."""
    return workspaces.create_list(conn, workspace_id, _clean_name(conn, workspace_id, None, name))


def rename(conn: Connection, workspace_id: int, list_id: int, name: str) -> None:
    """Rename the list; a name already in use is refused."""
    _own(conn, workspace_id, list_id)
    clean = _clean_name(conn, workspace_id, list_id, name)
    conn.execute(update(MailingList).where(MailingList.id == list_id).values(name=clean))


def campaigns_using(conn: Connection, workspace_id: int, list_id: int) -> AudienceUse:
    """The campaigns that chose this list."""
    return audience_refs.campaigns_using(conn, workspace_id, "lists", list_id)


def delete_list(conn: Connection, workspace_id: int, list_id: int) -> int:
    """Delete the list; its contacts stay, they are only no longer on it. Refused while a draft
    campaign's audience includes it. Returns how many contacts were on it."""
    _own(conn, workspace_id, list_id)
    audience_refs.refuse_if_drafts(campaigns_using(conn, workspace_id, list_id), "This list")
    members = conn.scalar(
        select(func.count()).select_from(ListMembership).where(ListMembership.list_id == list_id)
    )
    conn.execute(delete(ListMembership).where(ListMembership.list_id == list_id))
    conn.execute(delete(MailingList).where(MailingList.id == list_id))
    return int(members or 0)


def leave(conn: Connection, workspace_id: int, list_id: int, email: str) -> None:
    """Take the mailbox ``email`` off one list (it left by the preference center); its other
    lists and its status stay. A list of another workspace, or an unknown address, is ignored."""
    if not workspaces.list_in_workspace(conn, workspace_id, list_id):
        return
    contact_id = conn.scalar(
        select(Contact.id).where(
            Contact.workspace_id == workspace_id, Contact.email_key == mailbox_key(email)
        )
    )
    if contact_id is not None:
        workspaces.remove_members(conn, list_id, [int(contact_id)])

"""The workspace's suppression list: addresses that every send must leave out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import (
    Contact,
    ContactStatus,
    Suppression,
    SuppressionReason,
    SuppressionRemoval,
    Workspace,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import people
from mailfleet.desktop.services.csvformat import RecordReader, sniff
from mailfleet.desktop.services.emails import check_address
from mailfleet.desktop.services.people import Action

# What a suppressed address becomes when it is imported or suppressed as a contact.
STATUS_FOR_REASON = {
    SuppressionReason.BOUNCED: ContactStatus.BOUNCED,
    SuppressionReason.COMPLAINED: ContactStatus.COMPLAINED,
    SuppressionReason.UNSUBSCRIBED: ContactStatus.UNSUBSCRIBED,
    SuppressionReason.MANUAL: ContactStatus.UNSUBSCRIBED,
    SuppressionReason.ERASED: ContactStatus.UNSUBSCRIBED,
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One suppression entry; ``email`` is None for an erased contact (only its hash is kept)."""

    id: int
    email: str | None
    reason: SuppressionReason
    source: str
    created_at: datetime


def address_hash(salt: str, email: str) -> str:
    """The salted SHA-256 of a normalised address as written, as stored for entries that keep
    their address."""
    return hashlib.sha256(f"{salt}:{email}".encode()).hexdigest()


def key_hash(salt: str, email: str) -> str:
    """The salted SHA-256 of an address's mailbox key, as stored for an erased address, so it
    is still recognised when it comes back in another spelling."""
    return address_hash(salt, mailbox_key(email))


def hashes(salt: str, email: str) -> tuple[str, ...]:
    """Every hash an entry for ``email`` may carry: of its mailbox key and, if different, of
    the address as written (entries that keep their address, and erasures made before
    mailbox keys)."""
    return tuple(dict.fromkeys((key_hash(salt, email), address_hash(salt, email))))


def workspace_salt(conn: Connection, workspace_id: int) -> str:
    """The workspace's hashing salt."""
    salt = conn.scalar(select(Workspace.hash_salt).where(Workspace.id == workspace_id))
    if salt is None:
        raise LookupError(f"no workspace {workspace_id}")
    return salt


def add(
    conn: Connection,
    workspace_id: int,
    email: str,
    reason: SuppressionReason,
    source: str = "",
    *,
    keep_address: bool = True,
) -> bool:
    """Suppress ``email`` (normalised first); returns False if it was already suppressed.

    Raises ``ValueError`` for something that is not an email address.

    The matching contact (any spelling of the mailbox), if any, stops being subscribed.
    ``keep_address=False`` stores only the hash (used when a contact is erased).
    """
    checked = check_address(email)
    if checked.email is None:
        raise ValueError(f"{email!r}: {checked.error}")
    normal = checked.email
    salt = workspace_salt(conn, workspace_id)
    values = {
        "workspace_id": workspace_id,
        "email": normal if keep_address else None,
        "email_hash": (address_hash if keep_address else key_hash)(salt, normal),
        "reason": reason.value,
        "source": source,
        "created_at": utcnow(),
    }
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(Suppression).values(values).on_conflict_do_nothing()
    added = conn.execute(statement.returning(Suppression.id)).first() is not None
    conn.execute(
        update(Contact)
        .where(
            Contact.workspace_id == workspace_id,
            Contact.email_key == mailbox_key(normal),
            Contact.status == ContactStatus.SUBSCRIBED.value,
        )
        .values(status=STATUS_FOR_REASON[reason].value, updated_at=utcnow())
    )
    return added


def remove(conn: Connection, workspace_id: int, entry_id: int) -> None:
    """Delete one entry. Contacts keep their status: removing an entry does not resubscribe.

    The removal is kept for the agents (``mailfleet.desktop.agents.suppression_sync``) when the
    entry has an address. Refused for a role that may not (``Action.REMOVE_SUPPRESSION``).
    """
    people.require(conn, Action.REMOVE_SUPPRESSION)
    lift(conn, workspace_id, entry_id)


def lift(conn: Connection, workspace_id: int, entry_id: int) -> None:
    """Delete one entry because its address asked to be mailed again (a confirmed signup):
    like :func:`remove`, but nobody's role is asked, since no teammate decided it."""
    email = conn.scalar(
        delete(Suppression)
        .where(Suppression.id == entry_id, Suppression.workspace_id == workspace_id)
        .returning(Suppression.email)
    )
    if email is not None:
        conn.execute(
            insert(SuppressionRemoval).values(
                workspace_id=workspace_id, email=email, created_at=utcnow()
            )
        )


def entries(conn: Connection, workspace_id: int, search: str = "", limit: int = 500) -> list[Entry]:
    """The newest entries, optionally only those whose address contains ``search``."""
    query = select(
        Suppression.id,
        Suppression.email,
        Suppression.reason,
        Suppression.source,
        Suppression.created_at,
    ).where(Suppression.workspace_id == workspace_id)
    if search:
        query = query.where(Suppression.email.icontains(search, autoescape=True))
    query = query.order_by(Suppression.id.desc()).limit(limit)
    return [
        Entry(row.id, row.email, SuppressionReason(row.reason), row.source, row.created_at)
        for row in conn.execute(query)
    ]


def count(conn: Connection, workspace_id: int) -> int:
    """How many entries the workspace has."""
    total = conn.scalar(
        select(func.count())
        .select_from(Suppression)
        .where(Suppression.workspace_id == workspace_id)
    )
    return int(total or 0)


@dataclass(frozen=True, slots=True)
class Lookup:
    """The suppression list held in memory for a bulk job (an import). Entries whose address
    was erased are known by hash only; the others by mailbox key, so every spelling of an
    address matches."""

    salt: str
    by_key: dict[str, SuppressionReason]
    by_hash: dict[str, SuppressionReason]

    def reason(self, email: str, key: str | None = None) -> SuppressionReason | None:
        """Why ``email`` (whose mailbox key is ``key``, if known) is suppressed, or None."""
        found = self.by_key.get(mailbox_key(email) if key is None else key)
        if found is not None:
            return found
        # Hash only when there is something to compare with: most workspaces erase rarely.
        for digest in hashes(self.salt, email) if self.by_hash else ():
            found = self.by_hash.get(digest)
            if found is not None:
                return found
        return None


def load_lookup(conn: Connection, workspace_id: int) -> Lookup:
    """Load the workspace's suppression list for fast membership checks."""
    by_key: dict[str, SuppressionReason] = {}
    by_hash: dict[str, SuppressionReason] = {}
    rows = conn.execute(
        select(Suppression.email_key, Suppression.email_hash, Suppression.reason).where(
            Suppression.workspace_id == workspace_id
        )
    )
    for key, email_hash, reason in rows:
        if key is None:
            by_hash[email_hash] = SuppressionReason(reason)
        else:
            by_key[key] = SuppressionReason(reason)
    return Lookup(workspace_salt(conn, workspace_id), by_key, by_hash)


def not_suppressed(workspace_id: int) -> ColumnElement[bool]:
    """A condition on ``Contact`` that is true only for mailboxes not on the suppression list.

    Entries whose address was erased match by status instead: erasing deletes the contact, and a
    re-imported address is caught by the import's hash check.
    """
    return ~exists().where(
        Suppression.workspace_id == workspace_id, Suppression.email_key == Contact.email_key
    )


def import_addresses(
    conn: Connection, workspace_id: int, path: Path, source: str
) -> tuple[int, int]:
    """Suppress every address in the first column of a CSV file.

    Returns (newly suppressed, refused as not an address).
    """
    fmt = sniff(path)
    added = refused = 0
    with RecordReader(path, fmt) as reader:
        records = iter(reader)
        if fmt.has_header:
            next(records, None)
        for record in records:
            cell = record.cells[0] if record.cells else ""
            if not cell.strip():
                continue
            if check_address(cell).email is None:
                refused += 1
                continue
            added += add(conn, workspace_id, cell, SuppressionReason.MANUAL, source)
    return added, refused

"""Privacy requests: export everything held about one contact; erase a contact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from desktop.db.mailbox import mailbox_key
from desktop.db.models import (
    Contact,
    EngagementEvent,
    ListMembership,
    MailingList,
    Suppression,
    SuppressionReason,
    SuppressionRemoval,
)
from desktop.services import suppression


def contact_record(conn: Connection, workspace_id: int, contact_id: int) -> dict[str, Any]:
    """Everything the workspace holds about one contact, as plain JSON-ready data."""
    contact = conn.execute(
        select(Contact).where(Contact.id == contact_id, Contact.workspace_id == workspace_id)
    ).one_or_none()
    if contact is None:
        raise LookupError(f"no contact {contact_id} in this workspace")
    salt = suppression.workspace_salt(conn, workspace_id)
    lists = conn.scalars(
        select(MailingList.name)
        .join(ListMembership, ListMembership.list_id == MailingList.id)
        .where(ListMembership.contact_id == contact_id)
        .order_by(MailingList.name)
    ).all()
    events = conn.execute(
        select(EngagementEvent.kind, EngagementEvent.campaign_id, EngagementEvent.occurred_at)
        .where(EngagementEvent.contact_id == contact_id)
        .order_by(EngagementEvent.occurred_at)
    ).all()
    entries = conn.execute(
        select(Suppression.reason, Suppression.source, Suppression.created_at).where(
            Suppression.workspace_id == workspace_id,
            or_(
                Suppression.email_hash.in_(suppression.hashes(salt, contact.email)),
                Suppression.email_key == contact.email_key,
            ),
        )
    ).all()
    return {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "status": contact.status,
        "consent_source": contact.consent_source,
        "consent_at": contact.consent_at.isoformat() if contact.consent_at else None,
        "created_at": contact.created_at.isoformat(),
        "updated_at": contact.updated_at.isoformat(),
        "fields": contact.fields,
        "lists": list(lists),
        "engagement": [
            {"kind": kind, "campaign_id": cid, "at": at.isoformat()} for kind, cid, at in events
        ],
        "suppression": [
            {"reason": reason, "source": source, "at": at.isoformat()}
            for reason, source, at in entries
        ],
    }


def export_contact(conn: Connection, workspace_id: int, contact_id: int, path: Path) -> None:
    """Write ``contact_record`` as pretty JSON to ``path``."""
    record = contact_record(conn, workspace_id, contact_id)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")


def erase_contact(conn: Connection, workspace_id: int, contact_id: int) -> None:
    """Remove a contact's personal data and keep only a hashed suppression entry.

    The contact, its list memberships and engagement go; the suppression entries of its
    mailbox (any spelling) become one that keeps its reason but only the hash of the mailbox
    key; an ``erased`` entry is added if none existed, so the address is never mailed again in
    any spelling (a later import of it comes in unsubscribed).
    """
    email = conn.scalar(
        select(Contact.email).where(Contact.id == contact_id, Contact.workspace_id == workspace_id)
    )
    if email is None:
        raise LookupError(f"no contact {contact_id} in this workspace")
    salt = suppression.workspace_salt(conn, workspace_id)
    mailbox = or_(
        Suppression.email_hash.in_(suppression.hashes(salt, email)),
        Suppression.email_key == mailbox_key(email),
    )
    # One entry per mailbox survives, known only by the hash of the mailbox key: the entries
    # of other spellings would each keep a hash of an address as written.
    entries = list(
        conn.scalars(
            select(Suppression.id)
            .where(Suppression.workspace_id == workspace_id, mailbox)
            .order_by(Suppression.id)
        )
    )
    if entries:
        conn.execute(delete(Suppression).where(Suppression.id.in_(entries[1:])))
        conn.execute(
            update(Suppression)
            .where(Suppression.id == entries[0])
            .values(email=None, email_key=None, email_hash=suppression.key_hash(salt, email))
        )
    # Removals waiting for the agents hold the address in clear, in any spelling: they go too
    # (the agents then keep suppressing it, which errs on the side of not mailing). Compared
    # in Python: SQL's lower() is ASCII-only on SQLite, and erasures are rare.
    key = mailbox_key(email)
    removals = conn.execute(
        select(SuppressionRemoval.id, SuppressionRemoval.email).where(
            SuppressionRemoval.workspace_id == workspace_id
        )
    )
    doomed = [rid for rid, address in removals if mailbox_key(address) == key]
    if doomed:
        conn.execute(delete(SuppressionRemoval).where(SuppressionRemoval.id.in_(doomed)))
    suppression.add(
        conn, workspace_id, email, SuppressionReason.ERASED, "privacy erasure", keep_address=False
    )
    conn.execute(delete(Contact).where(Contact.id == contact_id))

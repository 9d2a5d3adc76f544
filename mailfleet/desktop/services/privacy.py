"""Privacy requests: export everything held about one contact; erase a contact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    EngagementEvent,
    ListMembership,
    MailingList,
    Suppression,
    SuppressionReason,
    SuppressionRemoval,
)
from mailfleet.desktop.services import retention, signups, suppression


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
        "consent_records": signups.consent_history(conn, workspace_id, contact_id),
        "campaigns": _campaigns(conn, workspace_id, contact_id),
        "pruned": _pruned(conn, workspace_id),
    }


def _campaigns(conn: Connection, workspace_id: int, contact_id: int) -> list[dict[str, Any]]:
    """The campaigns the contact was a recipient of, as far as their details are kept."""
    r = CampaignRecipient
    rows = conn.execute(
        select(Campaign.id, Campaign.name, r.email, r.status, r.reason, r.opened, r.clicked,
               r.complained, r.unsubscribed)
        .join(Campaign, Campaign.id == r.campaign_id)
        .where(Campaign.workspace_id == workspace_id, r.contact_id == contact_id)
        .order_by(Campaign.id, r.id)
    )  # fmt: skip
    keys = ("campaign_id", "campaign", "email", "status", "reason", "opened", "clicked",
            "complained", "unsubscribed")  # fmt: skip
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _pruned(conn: Connection, workspace_id: int) -> dict[str, Any]:
    """Which campaigns' per-recipient details retention deleted, and what that means."""
    days = retention.retention_days(conn, workspace_id)
    names = {
        int(cid): name
        for cid, name in conn.execute(
            select(Campaign.id, Campaign.name).where(Campaign.workspace_id == workspace_id)
        )
    }
    pruned = sorted(retention.pruned_campaigns(conn, workspace_id).items())
    return {
        "note": (
            f"This workspace keeps who received, opened or clicked a campaign for {days} days "
            "after the campaign's last activity, then only the campaign's totals. For the "
            "campaigns listed here those details were deleted, so whether this contact "
            "received them, and what they did with them, is no longer held."
        ),
        "campaigns": [
            {"campaign_id": cid, "campaign": names[cid], "deleted_at": at.isoformat()}
            for cid, at in pruned
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

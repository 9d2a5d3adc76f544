"""Forgetting people who signed up on a form and never confirmed, as the agents do.

A signup whose link expired leaves a contact *pending confirmation* with a consent record that
holds an IP address and a user agent, and it proves nothing. Like the agents'
``[retention] unconfirmed_signups_days``, the desktop deletes such a contact (its consent
records and list memberships go with it) once its last signup is older than ``DAYS`` and every
one of its signups expired. A contact that ever confirmed, is pending a signup that can still be
confirmed, or waits for an import's confirmation mail stays.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, exists, func, select

from mailfleet.desktop.db.models import ConfirmationRequest, ConsentRecord, Contact, ContactStatus

DAYS = 30
EXPIRED = "expired"


def delete_expired(conn: Connection, workspace_id: int, now: datetime, batch: int) -> int:
    """Delete up to ``batch`` such contacts in the caller's transaction; return how many."""
    records = ConsentRecord
    latest = (
        select(func.max(records.signed_up_at))
        .where(records.contact_id == Contact.id)
        .scalar_subquery()
    )
    ids = conn.scalars(
        select(Contact.id)
        .where(
            Contact.workspace_id == workspace_id,
            Contact.status == ContactStatus.UNCONFIRMED.value,
            exists().where(records.contact_id == Contact.id),
            ~exists().where(records.contact_id == Contact.id, records.status != EXPIRED),
            ~exists().where(ConfirmationRequest.contact_id == Contact.id),
            latest < now - timedelta(days=DAYS),
        )
        .limit(batch)
    ).all()
    if ids:
        conn.execute(delete(Contact).where(Contact.id.in_(ids)))
    return len(ids)

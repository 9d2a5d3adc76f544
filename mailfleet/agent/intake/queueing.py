"""The store job for accepted mail: a submission into the transactional lane. It runs inside
the writer's group commit; the session answers 250 only after that commit returned."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from mailfleet.agent.intake.message import TRACK_BY_DEFAULT
from mailfleet.agent.model import Lane, Sender, Tracking, payload
from mailfleet.agent.store.contents import MessageContent
from mailfleet.agent.store.enqueue import Enqueue
from mailfleet.agent.store.enqueue import enqueue as store_enqueue


@dataclass(frozen=True)
class Submission:
    """One accepted message of an authenticated (or trusted) session."""

    tenant_id: int
    username: str  # the SMTP user, or "" for a trusted network
    mail_from: str
    recipients: tuple[tuple[str, str], ...]  # (address, normalised address)
    data: bytes  # with its Received field, without control headers
    tags: tuple[str, ...] = ()
    route: str = ""
    campaign: str = ""
    pool: str = ""
    tracking: Tracking = TRACK_BY_DEFAULT


# Submitted MIME is sent as it is: its recipients have no name or merge fields to keep.
_NO_FIELDS = payload.encode_text()


def enqueue(conn: sqlite3.Connection, sub: Submission) -> list[int]:
    """Queue one message per recipient, sharing one stored copy; return their ids."""
    content = MessageContent(
        Sender(sub.mail_from),
        None,
        sub.data,
        sub.tags,
        sub.tracking,
        route=sub.route,
        pool=sub.pool,
        source="smtp",
        smtp_user=sub.username,
        campaign=sub.campaign,
    )
    attrs = {"lane": "transactional", "source": "smtp"}
    if sub.username:
        attrs["smtp_user"] = sub.username
    if sub.campaign:
        attrs["campaign"] = sub.campaign
    if sub.tags:
        attrs["tags"] = ",".join(sub.tags)
    if sub.pool:
        attrs["pool"] = sub.pool
    rows = [(email, norm, _NO_FIELDS) for email, norm in sub.recipients]
    queued = store_enqueue(
        conn,
        Enqueue(
            sub.tenant_id,
            Lane.TRANSACTIONAL,
            json.dumps(rows),
            sub.tags,
            content=content,
            queued_attrs=attrs,
        ),
    )
    return list(queued.ids)

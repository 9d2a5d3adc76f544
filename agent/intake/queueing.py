"""The store job for accepted mail: a submission into the transactional lane. It runs inside
the writer's group commit; the session answers 250 only after that commit returned."""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass

from agent.intake.message import TRACK_BY_DEFAULT
from agent.model import Lane, Sender, Tracking
from agent.store.contents import MessageContent
from agent.store.enqueue import Enqueue
from agent.store.enqueue import enqueue as store_enqueue
from mailfleet.v1 import common_pb2


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


def _payload(email: str) -> str:
    """The recipient as campaign uploads store theirs (a submission has no merge fields)."""
    return base64.b64encode(common_pb2.Recipient(email=email).SerializeToString()).decode("ascii")


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
    rows = [(email, norm, _payload(email)) for email, norm in sub.recipients]
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

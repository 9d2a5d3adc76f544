"""Store jobs for accepted mail: submissions into the transactional lane, bounce-domain mail
into ``inbound_mail``. Each runs inside the writer's group commit; the session answers 250
only after that commit returned."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from dataclasses import asdict, dataclass

from agent.feedback import suppression
from agent.intake.message import TRACK_BY_DEFAULT
from agent.model import EventType, Lane, MessageState, Sender, Tracking
from agent.store import events
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


def enqueue(conn: sqlite3.Connection, sub: Submission) -> list[int]:
    """Queue one message per recipient, sharing one stored copy; return their ids."""
    spec = {
        "sender": asdict(Sender(sub.mail_from)),
        "content": None,
        "tags": list(sub.tags),
        "tracking": asdict(sub.tracking),
        "source": "smtp",
        "smtp_user": sub.username,
        "route": sub.route,
        "campaign": sub.campaign,
        "pool": sub.pool,
    }
    content = conn.execute(
        "INSERT INTO contents (spec, raw_mime) VALUES (?, ?)", (json.dumps(spec), sub.data)
    )
    now = time.time()
    attrs = {"lane": "transactional", "source": "smtp"}
    if sub.username:
        attrs["smtp_user"] = sub.username
    if sub.campaign:
        attrs["campaign"] = sub.campaign
    if sub.tags:
        attrs["tags"] = ",".join(sub.tags)
    if sub.pool:
        attrs["pool"] = sub.pool
    ids = []
    for email, norm in sub.recipients:
        payload = base64.b64encode(common_pb2.Recipient(email=email).SerializeToString())
        cur = conn.execute(
            "INSERT INTO messages (tenant_id, content_id, lane, state, email, email_norm,"
            " payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sub.tenant_id,
                content.lastrowid,
                int(Lane.TRANSACTIONAL),
                int(MessageState.QUEUED),
                email,
                norm,
                payload.decode("ascii"),
                now,
                now,
            ),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
        events.append(
            conn,
            sub.tenant_id,
            EventType.MESSAGE_QUEUED,
            message_id=cur.lastrowid,
            email=email,
            attrs=attrs,
        )
        # Checked here like any enqueued message, and again when it is about to be sent.
        suppression.screen_message(conn, sub.tenant_id, cur.lastrowid, email, sub.tags, now)
    return ids


def store_inbound(
    conn: sqlite3.Connection, peer: str, mail_from: str, recipients: list[str], data: bytes
) -> list[int]:
    """Keep mail for the bounce domain, one row per recipient, for the feedback loop."""
    now = time.time()
    ids = []
    for rcpt in recipients:
        cur = conn.execute(
            "INSERT INTO inbound_mail (received_at, peer, mail_from, rcpt_to, data)"
            " VALUES (?, ?, ?, ?, ?)",
            (now, peer, mail_from, rcpt, data),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    return ids

"""The one way messages enter the queue.

Every lane describes what it queues as an :class:`Enqueue`: a campaign's upload (many
recipients of one campaign, one event for the batch), a transactional send (one recipient,
an idempotency key, content of its own) and an SMTP submission (several recipients sharing
one stored copy). :func:`enqueue` stores it the same way for all of them: the content once,
the messages in one ``INSERT … SELECT`` over a JSON document, their events, and suppression
screening, all inside the caller's transaction, so a suppressed address is never queued for
even a moment.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from mailfleet.agent.model import EventType, Lane, MessageState
from mailfleet.agent.store import contents, events, suppression
from mailfleet.agent.store.contents import MessageContent

# json_each keeps the document's order, so ids follow it. A unique index (a campaign's
# addresses, a tenant's idempotency keys) refuses a repeat, which is then not stored. Each
# payload travels as text (mailfleet.agent.model.payload.encode_text) and is stored as its UTF-8
# bytes.
_INSERT = (
    "INSERT INTO messages (tenant_id, campaign_id, content_id, lane, state, email, email_norm,"
    " field_set_id, payload, idempotency_key, created_at, updated_at)"
    " SELECT ?, ?, ?, ?, ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?,"
    " CAST(json_extract(value, '$[2]') AS BLOB), ?, ?, ? FROM json_each(?) WHERE true"
    " ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class Enqueue:
    """Messages to queue, and how their lane differs from the others."""

    tenant_id: int
    lane: Lane
    # JSON array of [email, email_norm, payload text] rows, encoded by whoever prepared them so
    # the writer thread does not spend its time on it (see RecipientRows.document).
    document: str
    tags: tuple[str, ...] = ()  # what scoped suppressions are matched against
    campaign_id: int | None = None
    field_set_id: int | None = None
    content: MessageContent | None = None  # stored once, shared by every message
    idempotency_key: str | None = None
    # Attributes of the MESSAGE_QUEUED event each message gets; None: one RECIPIENTS_ADDED
    # event for the whole batch instead (a campaign upload of a million rows).
    queued_attrs: dict[str, str] | None = None


@dataclass(frozen=True)
class Enqueued:
    """What :func:`enqueue` stored."""

    after_id: int  # the new messages are the ones with a greater id
    count: int  # how many were new (a repeat of a stored one is not)
    suppressed: int  # how many of them screening suppressed at once
    existing: int | None = None  # the message queued earlier under the idempotency key

    @property
    def ids(self) -> range:
        """The new messages' ids, in document order.

        Consecutive: the single writer inserts them in one statement, and SQLite gives each
        new row the largest rowid plus one.
        """
        return range(self.after_id + 1, self.after_id + 1 + self.count)


def _existing(conn: sqlite3.Connection, tenant_id: int, key: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM messages WHERE tenant_id = ? AND idempotency_key = ?", (tenant_id, key)
    ).fetchone()
    return int(row[0]) if row else None


def enqueue(conn: sqlite3.Connection, req: Enqueue, now: float | None = None) -> Enqueued:
    """Queue ``req``'s messages in the caller's transaction, with their events, and suppress
    at once those whose address is suppressed; or, when its idempotency key was used before,
    change nothing and name the message queued then."""
    if req.idempotency_key is not None:
        existing = _existing(conn, req.tenant_id, req.idempotency_key)
        if existing is not None:
            return Enqueued(existing, 0, 0, existing)
    now = time.time() if now is None else now
    content_id = None if req.content is None else contents.insert(conn, req.content)
    after_id = conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
    before = conn.total_changes
    conn.execute(
        _INSERT,
        (
            req.tenant_id,
            req.campaign_id,
            content_id,
            int(req.lane),
            int(MessageState.QUEUED),
            req.field_set_id,
            req.idempotency_key,
            now,
            now,
            req.document,
        ),
    )
    count = conn.total_changes - before
    if not count:
        return Enqueued(after_id, 0, 0)
    if req.queued_attrs is None:
        events.append(
            conn,
            req.tenant_id,
            EventType.RECIPIENTS_ADDED,
            campaign_id=req.campaign_id,
            attrs={"count": str(count)},
        )
    else:
        events.append_for_messages(conn, EventType.MESSAGE_QUEUED, after_id, req.queued_attrs, now)
    # Checked here like every enqueued message, and again when it is about to be sent.
    suppressed = suppression.screen_enqueued(
        conn, req.tenant_id, after_id, req.tags, req.campaign_id is not None, now
    )
    return Enqueued(after_id, count, suppressed)

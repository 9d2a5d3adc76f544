"""Single messages: the transactional lane, and reads of any message."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from mailfleet.agent.errors import NotFound
from mailfleet.agent.model import (
    Lane,
    MessageState,
    StoredMessage,
    TransactionalMessage,
)
from mailfleet.agent.store.contents import MessageContent
from mailfleet.agent.store.enqueue import Enqueue, enqueue

_COLUMNS = (
    "id, campaign_id, lane, email, state, attempts, created_at, updated_at, next_at,"
    " last_reply, idempotency_key"
)


def _message(
    row: tuple[int, int | None, int, str, int, int, float, float, float | None, str, str | None],
) -> StoredMessage:
    mid, cid, lane, email, state, attempts, created, updated, next_at, reply, key = row
    return StoredMessage(
        mid,
        cid,
        Lane(lane),
        email,
        MessageState(state),
        attempts,
        created,
        updated,
        next_at,
        reply,
        key or "",
    )


def enqueue_transactional(
    conn: sqlite3.Connection, tenant_id: int, msg: TransactionalMessage
) -> tuple[StoredMessage, bool]:
    """Queue a message, or find the one queued earlier with the same key.

    Returns the message and whether it was a duplicate.
    """
    payload = msg.payload.decode("utf-8")  # mailfleet.agent.model.payload bytes are UTF-8 text
    queued = enqueue(
        conn,
        Enqueue(
            tenant_id,
            Lane.TRANSACTIONAL,
            json.dumps([[msg.email, msg.email_norm, payload]]),
            msg.tags,
            content=MessageContent(msg.sender, msg.content, msg.raw_mime, msg.tags, msg.tracking),
            idempotency_key=msg.idempotency_key,
            queued_attrs={"lane": "transactional"},
        ),
    )
    if queued.existing is not None:
        return get(conn, tenant_id, queued.existing), True
    return get(conn, tenant_id, queued.ids[0]), False


def get(conn: sqlite3.Connection, tenant_id: int, message_id: int) -> StoredMessage:
    """One message of the tenant."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM messages WHERE id = ? AND tenant_id = ?", (message_id, tenant_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"message {message_id} does not exist")
    return _message(row)


def list_(
    conn: sqlite3.Connection,
    tenant_id: int,
    campaign_id: int | None,
    state: MessageState | None,
    after_id: int,
    limit: int,
) -> list[StoredMessage]:
    """Messages of a campaign (or the transactional lane when None), keyset-paged by id."""
    where = ["tenant_id = ?", "id > ?"]
    params: list[object] = [tenant_id, after_id]
    if campaign_id is None:
        where.append("campaign_id IS NULL")
    else:
        where.append("campaign_id = ?")
        params.append(campaign_id)
    if state is not None:
        where.append("state = ?")
        params.append(int(state))
    params.append(limit)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM messages WHERE {' AND '.join(where)} ORDER BY id LIMIT ?", params
    ).fetchall()
    return [_message(r) for r in rows]


def tenant_counts(conn: sqlite3.Connection, tenant_id: int) -> dict[MessageState, int]:
    """Every message of the tenant by state, those retention has deleted included."""
    result = dict.fromkeys(MessageState, 0)
    # Both queries walk the (campaign_id, state) index instead of the whole table.
    queries = (
        (
            "SELECT m.state, count(*) FROM campaigns AS c CROSS JOIN messages AS m"
            " ON m.campaign_id = c.id WHERE c.tenant_id = ? GROUP BY m.state"
        ),
        (
            "SELECT state, count(*) FROM messages WHERE campaign_id IS NULL AND tenant_id = ?"
            " GROUP BY state"
        ),
        "SELECT state, sum(count) FROM message_totals WHERE tenant_id = ? GROUP BY state",
    )
    for sql in queries:
        for state, n in conn.execute(sql, (tenant_id,)):
            result[MessageState(state)] += n
    return result


@dataclass(frozen=True)
class Addressee:
    """Whom a message of any tenant went to, for feedback that names it by id."""

    id: int
    tenant_id: int
    campaign_id: int | None
    email: str
    state: MessageState


def addressee(conn: sqlite3.Connection, message_id: int) -> Addressee | None:
    """The message's tenant, campaign, recipient and state, or None if it does not exist."""
    row = conn.execute(
        "SELECT tenant_id, campaign_id, email, state FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if row is None:
        return None
    tenant_id, campaign_id, email, state = row
    return Addressee(message_id, tenant_id, campaign_id, email, MessageState(state))


@dataclass(frozen=True)
class AsSent:
    """What a message was rendered from: its recipient data (None once retention cleared it)
    and where its templates are (its campaign, else its content row)."""

    tenant_id: int
    campaign_id: int | None
    content_id: int | None
    email: str
    payload: bytes | None
    field_names: tuple[str, ...]


def as_sent(conn: sqlite3.Connection, message_id: int) -> AsSent | None:
    """The recipient data of a message of any tenant, or None if it does not exist."""
    row = conn.execute(
        "SELECT m.tenant_id, m.campaign_id, m.content_id, m.email, m.payload, f.names"
        " FROM messages m LEFT JOIN field_sets f ON f.id = m.field_set_id WHERE m.id = ?",
        (message_id,),
    ).fetchone()
    if row is None:
        return None
    tenant_id, campaign_id, content_id, email, data, names = row
    return AsSent(
        tenant_id, campaign_id, content_id, email, data, tuple(json.loads(names)) if names else ()
    )


def mark_bounced(
    conn: sqlite3.Connection, tenant_id: int, message_id: int, reply: str, now: float
) -> None:
    """A delivered message bounced after all (a DSN, an ESP webhook); others stay as they are."""
    conn.execute(
        "UPDATE messages SET state = ?, last_reply = ?, updated_at = ? WHERE id = ?"
        " AND tenant_id = ? AND state = ?",
        (
            int(MessageState.BOUNCED),
            reply,
            now,
            message_id,
            tenant_id,
            int(MessageState.DELIVERED),
        ),
    )


def count_by_state_and_lane(
    conn: sqlite3.Connection, states: Iterable[MessageState]
) -> dict[tuple[MessageState, Lane], tuple[int, float]]:
    """Messages of every tenant in ``states``, by state and lane (pairs without any absent):
    how many, and when the oldest of them was queued (one pass over them for both)."""
    wanted = [int(s) for s in states]
    placeholders = ", ".join("?" * len(wanted))
    rows = conn.execute(
        f"SELECT state, lane, count(*), min(created_at) FROM messages"
        f" WHERE state IN ({placeholders}) GROUP BY state, lane",
        wanted,
    )
    return {
        (MessageState(state), Lane(lane)): (int(n), float(oldest))
        for state, lane, n, oldest in rows
    }

"""The per-tenant suppression list: who must not be mailed, why, since when, for what scope.

An entry's scope is empty (every message) or a tag: it then applies only to messages of
campaigns (or transactional messages) carrying that tag. Unsubscribes concern bulk mail only:
a receipt still reaches someone who left the newsletter; bounces, complaints and manual
entries stop every message. A message without a campaign that carries :data:`MARKETING_TAG`
(an automation's) is bulk mail for this: an unsubscribe stops it.

Addresses are keyed by their normalised form with ASCII letters lower-cased (mailbox
providers treat the local part case-insensitively in practice, and SQLite's ``lower`` does
exactly this, so SQL and Python agree on the key).

Every function runs inside the caller's transaction on the store's writer thread. Screening
is the store's own operation: :mod:`mailfleet.agent.store.enqueue` screens what it inserts, and the
scheduler asks :func:`screen_claimed` about what it is about to send.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import events
from mailfleet.agent.store.queue import Claimed
from mailfleet.agent.validation import normalize_address

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_COLUMNS = "email, reason, source, scope, created_at"
# The tag that makes a message without a campaign bulk mail, screened as a campaign's.
MARKETING_TAG = "mailfleet:marketing"


class Reason(IntEnum):
    """Why an address is suppressed (the numbers of ``mailfleet.v1.SuppressionReason``)."""

    HARD_BOUNCE = 1
    COMPLAINT = 2
    UNSUBSCRIBE = 3
    MANUAL = 4


@dataclass(frozen=True)
class Entry:
    """One suppression."""

    email: str
    reason: Reason
    source: str = ""
    scope: str = ""
    created_at: float = 0.0

    def blocks(self, tags: Sequence[str], bulk: bool) -> bool:
        """Whether this entry stops a message with ``tags`` (of a campaign when ``bulk``)."""
        if self.scope and self.scope not in tags:
            return False
        return bulk or self.reason is not Reason.UNSUBSCRIBE


def key(email: str) -> str:
    """The address as suppression entries are keyed: normalised, ASCII letters lower-case."""
    address = email.strip()
    return (normalize_address(address) or address).translate(_ASCII_LOWER)


def _entry(row: tuple[str, int, str, str, float]) -> Entry:
    email, reason, source, scope, created = row
    return Entry(email, Reason(reason), source, scope, created)


def add(conn: sqlite3.Connection, tenant_id: int, entries: Iterable[Entry], now: float) -> int:
    """Add entries; an address already suppressed for the same scope keeps its first entry.

    Returns how many were new.
    """
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO suppressions"
        " (tenant_id, email_key, scope, email, reason, source, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (tenant_id, key(e.email), e.scope, e.email.strip(), int(e.reason), e.source, now)
            for e in entries
        ],
    )
    return conn.total_changes - before


def remove(conn: sqlite3.Connection, tenant_id: int, emails: Iterable[str], scope: str) -> int:
    """Remove the addresses' entries of ``scope``; return how many there were."""
    before = conn.total_changes
    conn.executemany(
        "DELETE FROM suppressions WHERE tenant_id = ? AND email_key = ? AND scope = ?",
        [(tenant_id, key(email), scope) for email in emails],
    )
    return conn.total_changes - before


def lookup(
    conn: sqlite3.Connection, tenant_id: int, emails: Iterable[str]
) -> dict[str, list[Entry]]:
    """Every entry of each address, by key (addresses without entries are absent)."""
    keys = sorted({key(email) for email in emails})
    found: dict[str, list[Entry]] = {}
    rows = conn.execute(
        f"SELECT email_key, {_COLUMNS} FROM suppressions WHERE tenant_id = ?"
        " AND email_key IN (SELECT value FROM json_each(?)) ORDER BY email_key, scope",
        (tenant_id, json.dumps(keys)),
    )
    for k, *rest in rows:
        found.setdefault(k, []).append(_entry((rest[0], rest[1], rest[2], rest[3], rest[4])))
    return found


def list_(
    conn: sqlite3.Connection,
    tenant_id: int,
    after: tuple[str, str],
    limit: int,
    reason: Reason | None = None,
) -> list[tuple[tuple[str, str], Entry]]:
    """Entries after the cursor (key, scope), in key order, each with its own cursor."""
    where = "tenant_id = ? AND (email_key, scope) > (?, ?)"
    params: list[object] = [tenant_id, after[0], after[1]]
    if reason is not None:
        where += " AND reason = ?"
        params.append(int(reason))
    rows = conn.execute(
        f"SELECT email_key, scope, {_COLUMNS} FROM suppressions WHERE {where}"
        " ORDER BY email_key, scope LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [((k, s), _entry((e, r, src, sc, t))) for k, s, e, r, src, sc, t in rows]


def count(conn: sqlite3.Connection, tenant_id: int) -> int:
    """How many entries the tenant has."""
    return int(
        conn.execute(
            "SELECT count(*) FROM suppressions WHERE tenant_id = ?", (tenant_id,)
        ).fetchone()[0]
    )


def _any(conn: sqlite3.Connection, tenant_id: int | None = None) -> bool:
    if tenant_id is None:
        return conn.execute("SELECT 1 FROM suppressions LIMIT 1").fetchone() is not None
    row = conn.execute("SELECT 1 FROM suppressions WHERE tenant_id = ? LIMIT 1", (tenant_id,))
    return row.fetchone() is not None


def _suppressed_event(
    conn: sqlite3.Connection,
    tenant_id: int,
    campaign_id: int | None,
    message_id: int,
    email: str,
    entry: Entry,
    stage: str,
) -> None:
    attrs = {"reason": entry.reason.name.lower(), "stage": stage}
    if entry.scope:
        attrs["scope"] = entry.scope
    events.append(
        conn,
        tenant_id,
        EventType.MESSAGE_SUPPRESSED,
        campaign_id=campaign_id,
        message_id=message_id,
        email=email,
        attrs=attrs,
    )


def _blocking(entries: list[Entry] | None, tags: Sequence[str], bulk: bool) -> Entry | None:
    bulk = bulk or MARKETING_TAG in tags
    for entry in entries or ():
        if entry.blocks(tags, bulk):
            return entry
    return None


def screen_enqueued(
    conn: sqlite3.Connection,
    tenant_id: int,
    after_id: int,
    tags: Sequence[str],
    bulk: bool,
    now: float,
) -> int:
    """At enqueue: mark the tenant's queued messages with id > ``after_id`` (the ones just
    inserted) whose address is suppressed as suppressed, each with its event. ``bulk`` says
    whether they belong to a campaign. Returns how many."""
    if not _any(conn, tenant_id):
        return 0
    matches = conn.execute(
        "SELECT id, campaign_id, email FROM messages WHERE id > ? AND state = ?"
        # One primary-key probe per new row, however long the list is.
        " AND EXISTS (SELECT 1 FROM suppressions AS s WHERE s.tenant_id = ?"
        " AND s.email_key = lower(messages.email_norm))",
        (after_id, int(MessageState.QUEUED), tenant_id),
    ).fetchall()
    rows = [(tenant_id, campaign_id, mid, email) for mid, campaign_id, email in matches]
    return len(_suppress_messages(conn, rows, lambda _: tags, bulk, now, "enqueue"))


def screen_claimed(
    conn: sqlite3.Connection,
    claimed: list[Claimed],
    tags_of: Callable[[Claimed], Sequence[str]],
    now: float,
) -> list[Claimed]:
    """At dequeue: settle claimed messages whose address became suppressed since they were
    queued (an unsubscribe wins over mail already queued); return the others, to be sent."""
    if not claimed or not _any(conn):
        return claimed
    by_id = {m.id: m for m in claimed}
    rows = [(m.tenant_id, m.campaign_id, m.id, m.email) for m in claimed]
    stopped = _suppress_messages(
        conn, rows, lambda mid: tags_of(by_id[mid]), None, now, "dequeue", leased=True
    )
    return [m for m in claimed if m.id not in stopped] if stopped else claimed


def _suppress_messages(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[int, int | None, int, str]],
    tags_of: Callable[[int], Sequence[str]],
    bulk: bool | None,
    now: float,
    stage: str,
    *,
    leased: bool = False,
) -> set[int]:
    """Suppress the messages (tenant, campaign, id, email) that an entry blocks; their ids."""
    by_tenant: dict[int, list[tuple[int | None, int, str]]] = {}
    for tenant_id, campaign_id, mid, email in rows:
        by_tenant.setdefault(tenant_id, []).append((campaign_id, mid, email))
    stopped: set[int] = set()
    for tenant_id, messages in by_tenant.items():
        found = lookup(conn, tenant_id, (email for _, _, email in messages))
        for campaign_id, mid, email in messages:
            is_bulk = campaign_id is not None if bulk is None else bulk
            entry = _blocking(found.get(key(email)), tags_of(mid), is_bulk)
            if entry is None:
                continue
            conn.execute(
                "UPDATE messages SET state = ?, lease_until = NULL, updated_at = ?,"
                " last_reply = ? WHERE id = ? AND state = ?",
                (
                    int(MessageState.SUPPRESSED),
                    now,
                    f"suppressed: {entry.reason.name.lower()}",
                    mid,
                    int(MessageState.IN_FLIGHT if leased else MessageState.QUEUED),
                ),
            )
            _suppressed_event(conn, tenant_id, campaign_id, mid, email, entry, stage)
            stopped.add(mid)
    return stopped

"""Campaigns, their state machine and their recipients."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from typing import Any

from mailfleet.agent.errors import FailedPrecondition, NotFound
from mailfleet.agent.model import (
    AbTest,
    AbVariant,
    AbWinnerRule,
    Campaign,
    CampaignSpec,
    CampaignState,
    Content,
    EventType,
    Lane,
    MessageState,
    RecipientRows,
    Sender,
    Tracking,
)
from mailfleet.agent.model.send_window import SendWindow
from mailfleet.agent.store import ab_tests, events
from mailfleet.agent.store.enqueue import Enqueue, enqueue

_COLUMNS = "id, tenant_id, state, spec, created_at, updated_at"
_UPLOADABLE = {CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED}
# (action, states it is allowed from, resulting state, event)
_TRANSITIONS: dict[str, tuple[frozenset[CampaignState], CampaignState, EventType]] = {
    "start": (frozenset({CampaignState.DRAFT}), CampaignState.RUNNING, EventType.CAMPAIGN_STARTED),
    "pause": (frozenset({CampaignState.RUNNING}), CampaignState.PAUSED, EventType.CAMPAIGN_PAUSED),
    "resume": (
        frozenset({CampaignState.PAUSED}),
        CampaignState.RUNNING,
        EventType.CAMPAIGN_RESUMED,
    ),
    "cancel": (
        frozenset({CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED}),
        CampaignState.CANCELLED,
        EventType.CAMPAIGN_CANCELLED,
    ),
}


def spec_to_json(spec: CampaignSpec) -> str:
    """Serialise a campaign's spec for its row."""
    return json.dumps(asdict(spec))


def spec_from_json(text: str) -> CampaignSpec:
    """The inverse of :func:`spec_to_json`."""
    data: dict[str, Any] = json.loads(text)
    return CampaignSpec(
        name=data["name"],
        sender=Sender(**data["sender"]),
        content=Content(**data["content"]),
        idempotency_key=data["idempotency_key"],
        tags=tuple(data["tags"]),
        throttle_per_minute=data["throttle_per_minute"],
        start_at=data["start_at"],
        tracking=Tracking(**data["tracking"]),
        ab_test=_ab_test(data.get("ab_test")),
        send_window=_send_window(data.get("send_window")),
    )


def _send_window(data: dict[str, Any] | None) -> SendWindow | None:
    if data is None:
        return None
    return SendWindow(
        tuple(data["weekdays"]), data["start_minute"], data["end_minute"], data["time_zone"]
    )


def _ab_test(data: dict[str, Any] | None) -> AbTest | None:
    if data is None:
        return None
    return AbTest(
        variants=tuple(AbVariant(**v) for v in data["variants"]),
        test_percent=data["test_percent"],
        rule=AbWinnerRule(data["rule"]),
        wait_hours=data["wait_hours"],
    )


def counts(conn: sqlite3.Connection, campaign_id: int) -> dict[MessageState, int]:
    """Messages of a campaign by state (every state present, zeros included): its rows, and
    the totals of those retention has deleted."""
    result = dict.fromkeys(MessageState, 0)
    for state, n in conn.execute(
        "SELECT state, count(*) FROM messages WHERE campaign_id = ? GROUP BY state"
        " UNION ALL SELECT state, sum(count) FROM message_totals WHERE campaign_id = ?"
        " GROUP BY state",
        (campaign_id, campaign_id),
    ):
        result[MessageState(state)] += n
    return result


def _campaign(conn: sqlite3.Connection, row: tuple[int, int, int, str, float, float]) -> Campaign:
    cid, tenant_id, state, spec, created, updated = row
    return Campaign(
        cid,
        tenant_id,
        spec_from_json(spec),
        CampaignState(state),
        created,
        updated,
        counts(conn, cid),
    )


def get(conn: sqlite3.Connection, tenant_id: int, campaign_id: int) -> Campaign:
    """A campaign of the tenant; another tenant's campaign is NotFound too."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM campaigns WHERE id = ? AND tenant_id = ?",
        (campaign_id, tenant_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return _campaign(conn, row)


def list_(conn: sqlite3.Connection, tenant_id: int, before_id: int, limit: int) -> list[Campaign]:
    """The tenant's campaigns, newest first, keyset-paged by id."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM campaigns WHERE tenant_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (tenant_id, before_id or 2**63 - 1, limit),
    ).fetchall()
    return [_campaign(conn, r) for r in rows]


def create(conn: sqlite3.Connection, tenant_id: int, spec: CampaignSpec) -> Campaign:
    """Create a draft campaign, or return the one created earlier with the same key."""
    existing = conn.execute(
        f"SELECT {_COLUMNS} FROM campaigns WHERE tenant_id = ? AND idempotency_key = ?",
        (tenant_id, spec.idempotency_key),
    ).fetchone()
    if existing is not None:
        return _campaign(conn, existing)
    now = time.time()
    cur = conn.execute(
        "INSERT INTO campaigns (tenant_id, idempotency_key, name, state, spec,"
        " throttle_per_minute, start_at, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant_id,
            spec.idempotency_key,
            spec.name,
            int(CampaignState.DRAFT),
            spec_to_json(spec),
            spec.throttle_per_minute,
            spec.start_at,
            now,
            now,
        ),
    )
    assert cur.lastrowid is not None
    events.append(
        conn,
        tenant_id,
        EventType.CAMPAIGN_CREATED,
        campaign_id=cur.lastrowid,
        attrs={"name": spec.name},
    )
    return get(conn, tenant_id, cur.lastrowid)


def transition(conn: sqlite3.Connection, tenant_id: int, campaign_id: int, action: str) -> Campaign:
    """Start, pause, resume or cancel a campaign; cancelling also cancels its waiting messages."""
    allowed, target, event = _TRANSITIONS[action]
    campaign = get(conn, tenant_id, campaign_id)
    if campaign.state == target:
        return campaign  # repeating a request that already took effect is harmless
    if campaign.state not in allowed:
        raise FailedPrecondition(
            f"cannot {action} campaign {campaign_id}: it is {campaign.state.name.lower()}"
        )
    attrs: dict[str, str] = {}
    if target == CampaignState.CANCELLED:
        cur = conn.execute(
            "UPDATE messages SET state = ?, updated_at = ?"
            " WHERE campaign_id = ? AND state IN (?, ?)",
            (
                int(MessageState.CANCELLED),
                time.time(),
                campaign_id,
                int(MessageState.QUEUED),
                int(MessageState.DEFERRED),
            ),
        )
        attrs["messages_cancelled"] = str(cur.rowcount)
    if action == "start" and campaign.spec.ab_test is not None:
        attrs["ab_sample"] = str(ab_tests.begin(conn, campaign_id, campaign.spec, time.time()))
    conn.execute(
        "UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?",
        (int(target), time.time(), campaign_id),
    )
    events.append(conn, tenant_id, event, campaign_id=campaign_id, attrs=attrs)
    return get(conn, tenant_id, campaign_id)


def archived(
    conn: sqlite3.Connection, tenant_id: int, mark: str, any_of: list[str], limit: int
) -> list[tuple[int, float, CampaignSpec]]:
    """The tenant's started or completed campaigns tagged ``mark`` and any of ``any_of``,
    newest first: (id, created at, spec)."""
    rows = conn.execute(
        "SELECT id, created_at, spec FROM campaigns c WHERE tenant_id = ? AND state IN (?, ?)"
        " AND EXISTS (SELECT 1 FROM json_each(c.spec, '$.tags') WHERE value = ?)"
        " AND EXISTS (SELECT 1 FROM json_each(c.spec, '$.tags')"
        "  WHERE value IN (SELECT value FROM json_each(?)))"
        " ORDER BY id DESC LIMIT ?",
        (
            tenant_id,
            int(CampaignState.RUNNING),
            int(CampaignState.COMPLETED),
            mark,
            json.dumps(any_of),
            limit,
        ),
    ).fetchall()
    return [(int(r[0]), float(r[1]), spec_from_json(r[2])) for r in rows]


def get_spec(conn: sqlite3.Connection, campaign_id: int) -> CampaignSpec:
    """What the campaign's messages share, whichever tenant it belongs to."""
    row = conn.execute("SELECT spec FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
    return spec_from_json(row[0])


def _tags(conn: sqlite3.Connection, campaign_id: int) -> tuple[str, ...]:
    row = conn.execute("SELECT spec FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
    return tuple(json.loads(row[0])["tags"])


def _field_set_id(conn: sqlite3.Connection, names: tuple[str, ...]) -> int | None:
    if not names:
        return None
    key = json.dumps(names)
    conn.execute("INSERT OR IGNORE INTO field_sets (names) VALUES (?)", (key,))
    return int(conn.execute("SELECT id FROM field_sets WHERE names = ?", (key,)).fetchone()[0])


def add_recipients(
    conn: sqlite3.Connection,
    tenant_id: int,
    campaign_id: int,
    field_names: tuple[str, ...],
    batch: RecipientRows,
    document: str,
) -> list[tuple[int, str]]:
    """Queue the rows that are new to the campaign (``document`` is ``batch.document()``).

    Returns (position, email) of every duplicate, which is not stored: the batch's own repeats
    and the addresses the campaign already had.
    """
    state_row = conn.execute(
        "SELECT state FROM campaigns WHERE id = ? AND tenant_id = ?", (campaign_id, tenant_id)
    ).fetchone()
    if state_row is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    state = CampaignState(state_row[0])
    if state not in _UPLOADABLE:
        raise FailedPrecondition(
            f"campaign {campaign_id} is {state.name.lower()}; it takes no more recipients"
        )
    now = time.time()
    queued = enqueue(
        conn,
        Enqueue(
            tenant_id,
            Lane.BULK,
            document,
            _tags(conn, campaign_id),
            campaign_id=campaign_id,
            field_set_id=_field_set_id(conn, field_names),
        ),
        now,
    )
    duplicates = list(batch.repeats)
    # The unique index refused addresses the campaign already had; finding which ones
    # afterwards costs nothing in the usual case where every row is new.
    if queued.count < len(batch.rows):
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT email_norm FROM messages WHERE id > ? AND campaign_id = ?",
                (queued.after_id, campaign_id),
            )
        }
        duplicates.extend(
            (position, email)
            for position, (email, norm, _) in zip(batch.positions, batch.rows, strict=True)
            if norm not in stored
        )
    conn.execute("UPDATE campaigns SET updated_at = ? WHERE id = ?", (now, campaign_id))
    return duplicates


def count_running(conn: sqlite3.Connection) -> int:
    """How many campaigns of every tenant are running."""
    row = conn.execute(
        "SELECT count(*) FROM campaigns WHERE state = ?", (int(CampaignState.RUNNING),)
    ).fetchone()
    return int(row[0])


def unsent_by_domain(conn: sqlite3.Connection, campaign_id: int) -> dict[str, int]:
    """The campaign's messages still to be sent (queued, in flight, deferred) per recipient
    domain."""
    rows = conn.execute(
        "SELECT substr(email_norm, instr(email_norm, '@') + 1), count(*) FROM messages"
        " WHERE campaign_id = ? AND state IN (?, ?, ?) GROUP BY 1",
        (
            campaign_id,
            int(MessageState.QUEUED),
            int(MessageState.IN_FLIGHT),
            int(MessageState.DEFERRED),
        ),
    ).fetchall()
    return {str(domain): int(n) for domain, n in rows}


def decide_ab_tests(conn: sqlite3.Connection, now: float) -> list[tuple[int, int]]:
    """Let the rule of every A/B test that is due pick its winner; returns (campaign, winner)."""
    picked = []
    for campaign_id in ab_tests.due(conn, now):
        test = get_spec(conn, campaign_id).ab_test
        assert test is not None
        found = ab_tests.state(conn, campaign_id, len(test.variants))
        chosen = ab_tests.leader(found.figures, test.rule)
        ab_tests.pick(conn, campaign_id, chosen, now)
        picked.append((campaign_id, chosen))
    return picked

"""Automations, their versions, enrolments, the steps enrolments ran, the contacts they read.

A definition is kept as the JSON :mod:`mailfleet.agent.automations.definition` writes; the store
never reads into it. An enrolment moves on only by :func:`advance`, guarded by the step and
time it was read at, in the caller's transaction (the one that queues its step's messages), so
each step runs once per enrolment whatever crashes or repeats. Every function runs inside the
caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from mailfleet.agent.errors import NotFound
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import suppression


class AutomationState(IntEnum):
    """Whether an automation takes contacts in and moves them on (``mailfleet.v1``'s numbers)."""

    PAUSED = 1
    ACTIVE = 2


class EnrolmentState(IntEnum):
    """Where an enrolment stands."""

    ACTIVE = 1  # walking: its next step runs at next_at
    FINISHED = 2  # ran its last step
    EXITED = 3  # left at an exit step


@dataclass(frozen=True)
class Automation:
    """An automation row with its newest version's definition (JSON)."""

    automation_id: int
    tenant_id: int
    name: str
    state: AutomationState
    version: int
    definition: str
    created_at: float
    updated_at: float
    active_enrolments: int = 0


@dataclass(frozen=True)
class Due:
    """An enrolment whose next step is due."""

    enrolment_id: int
    automation_id: int
    version: int
    tenant_id: int
    email: str
    fields: dict[str, str]
    step: int
    next_at: float


@dataclass(frozen=True)
class Advance:
    """Where one enrolment goes, and the steps it ran on the way (step, message id or None)."""

    due: Due
    ran: Sequence[tuple[int, int | None]]
    step: int
    state: EnrolmentState
    next_at: float


@dataclass
class StepStats:
    """One step's counts for one version."""

    step: int
    entered: int = 0
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    exited: int = 0


@dataclass(frozen=True)
class Contact:
    """A contact as the agent knows it, for date triggers and tag steps."""

    email: str
    fields: dict[str, str]
    tags: list[str] = field(default_factory=list)


_COLUMNS = "a.id, a.tenant_id, a.name, a.state, a.version, v.definition, a.created_at, a.updated_at"
_JOIN = "JOIN automation_versions v ON v.automation_id = a.id AND v.version = a.version"
_ACTIVE = int(EnrolmentState.ACTIVE)


def _automation(row: Any, active: int = 0) -> Automation:
    return Automation(
        row[0], row[1], row[2], AutomationState(row[3]), row[4], row[5], row[6], row[7], active
    )


def put(
    conn: sqlite3.Connection,
    tenant_id: int,
    name: str,
    definition: str,
    trigger: str,
    now: float,
) -> tuple[Automation, bool]:
    """Create the automation (paused) or store ``definition`` as its next version; unchanged
    when it is its newest version already. Returns it and whether a version was added."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM automations a {_JOIN} WHERE a.tenant_id = ? AND a.name = ?",
        (tenant_id, name),
    ).fetchone()
    if row is not None and row[5] == definition:
        return _automation(row), False
    if row is None:
        cur = conn.execute(
            "INSERT INTO automations (tenant_id, name, state, version, trigger, created_at,"
            " updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
            (tenant_id, name, int(AutomationState.PAUSED), trigger, now, now),
        )
        automation_id, version = int(cur.lastrowid or 0), 1
    else:
        automation_id, version = int(row[0]), int(row[4]) + 1
        conn.execute(
            "UPDATE automations SET version = ?, trigger = ?, updated_at = ? WHERE id = ?",
            (version, trigger, now, automation_id),
        )
    conn.execute(
        "INSERT INTO automation_versions (automation_id, version, definition, created_at)"
        " VALUES (?, ?, ?, ?)",
        (automation_id, version, definition, now),
    )
    return get(conn, tenant_id, name), True


def get(conn: sqlite3.Connection, tenant_id: int, name: str) -> Automation:
    """The tenant's automation of this name; raises NotFound."""
    row = conn.execute(
        f"SELECT {_COLUMNS}, (SELECT count(*) FROM enrolments e WHERE e.automation_id = a.id"
        f" AND e.state = {_ACTIVE}) FROM automations a {_JOIN}"
        " WHERE a.tenant_id = ? AND a.name = ?",
        (tenant_id, name),
    ).fetchone()
    if row is None:
        raise NotFound(f"there is no automation named {name!r}")
    return _automation(row, int(row[8]))


def list_(conn: sqlite3.Connection, tenant_id: int) -> list[Automation]:
    """The tenant's automations by name."""
    rows = conn.execute(
        f"SELECT {_COLUMNS}, (SELECT count(*) FROM enrolments e WHERE e.automation_id = a.id"
        f" AND e.state = {_ACTIVE}) FROM automations a {_JOIN} WHERE a.tenant_id = ?"
        " ORDER BY a.name",
        (tenant_id,),
    ).fetchall()
    return [_automation(r, int(r[8])) for r in rows]


def set_state(
    conn: sqlite3.Connection, tenant_id: int, name: str, state: AutomationState, now: float
) -> Automation:
    """Activate or pause; a date trigger activated starts counting days from today."""
    found = get(conn, tenant_id, name)
    if found.state is not state:
        conn.execute(
            "UPDATE automations SET state = ?, updated_at = ?, scanned_day = NULL WHERE id = ?",
            (int(state), now, found.automation_id),
        )
    return get(conn, tenant_id, name)


def version_definition(conn: sqlite3.Connection, automation_id: int, version: int) -> str:
    """One version's definition (JSON)."""
    row = conn.execute(
        "SELECT definition FROM automation_versions WHERE automation_id = ? AND version = ?",
        (automation_id, version),
    ).fetchone()
    if row is None:
        raise NotFound(f"automation {automation_id} has no version {version}")
    return str(row[0])


def active_by_trigger(conn: sqlite3.Connection, tenant_id: int, trigger: str) -> list[Automation]:
    """The tenant's active automations whose newest version has this trigger."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM automations a {_JOIN}"
        " WHERE a.tenant_id = ? AND a.trigger = ? AND a.state = ?",
        (tenant_id, trigger, int(AutomationState.ACTIVE)),
    ).fetchall()
    return [_automation(r) for r in rows]


def enrol(
    conn: sqlite3.Connection,
    automation: Automation,
    email: str,
    fields: dict[str, str],
    entry_key: str,
    now: float,
) -> bool:
    """Enrol the address at the automation's newest version, due now; False (nothing stored)
    when it entered before with this entry key."""
    cur = conn.execute(
        "INSERT INTO enrolments (automation_id, version, tenant_id, email, email_key, entry_key,"
        " fields, step, state, next_at, entered_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            automation.automation_id,
            automation.version,
            automation.tenant_id,
            email,
            suppression.key(email),
            entry_key,
            json.dumps(fields),
            _ACTIVE,
            now,
            now,
            now,
        ),
    )
    return cur.rowcount > 0


def due(conn: sqlite3.Connection, now: float, limit: int) -> list[Due]:
    """Up to ``limit`` active enrolments of active automations due at ``now``, oldest first."""
    rows = conn.execute(
        "SELECT e.id, e.automation_id, e.version, e.tenant_id, e.email, e.fields, e.step,"
        f" e.next_at FROM enrolments e JOIN automations a ON a.id = e.automation_id"
        f" WHERE e.state = {_ACTIVE} AND e.next_at <= ? AND a.state = ?"
        " ORDER BY e.next_at LIMIT ?",
        (now, int(AutomationState.ACTIVE), limit),
    ).fetchall()
    return [Due(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]


def has_work(conn: sqlite3.Connection, now: float, today: int) -> bool:
    """Whether an enrolment of an active automation is due at ``now``, or a date trigger has
    not been scanned ``today``: a read, so an idle agent's runner never takes the writer."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM enrolments e JOIN automations a ON a.id = e.automation_id"
        f" WHERE e.state = {_ACTIVE} AND e.next_at <= ? AND a.state = ?)"
        " OR EXISTS (SELECT 1 FROM automations WHERE trigger = 'date' AND state = ?"
        " AND coalesce(scanned_day, -1) < ?)",
        (now, int(AutomationState.ACTIVE), int(AutomationState.ACTIVE), today),
    ).fetchone()
    return bool(row[0])


def engagement(
    conn: sqlite3.Connection, enrolment_ids: Iterable[int]
) -> dict[int, tuple[set[int], set[int]]]:
    """For each enrolment, the steps whose message was opened and those whose was clicked."""
    ids = json.dumps(list(enrolment_ids))
    found: dict[int, tuple[set[int], set[int]]] = {}
    rows = conn.execute(
        "SELECT DISTINCT s.enrolment_id, s.step, ev.type FROM json_each(?) j"
        " JOIN enrolment_steps s ON s.enrolment_id = j.value"
        " JOIN events ev ON ev.message_id = s.message_id AND ev.type IN (?, ?)"
        " WHERE s.message_id IS NOT NULL",
        (ids, int(EventType.MESSAGE_OPENED), int(EventType.MESSAGE_CLICKED)),
    )
    for enrolment_id, step, type_ in rows:
        opened, clicked = found.setdefault(int(enrolment_id), (set(), set()))
        (opened if type_ == int(EventType.MESSAGE_OPENED) else clicked).add(int(step))
    return found


def advance(conn: sqlite3.Connection, moves: Sequence[Advance], now: float) -> int:
    """Record each enrolment's steps and move it on, only when it is still where it was read
    (the step and due time); returns how many moved. A move that no longer applies records
    nothing: the caller's transaction must then not keep its messages (see the runner)."""
    moved = 0
    for move in moves:
        d = move.due
        cur = conn.execute(
            "UPDATE enrolments SET step = ?, state = ?, next_at = ?, updated_at = ?"
            f" WHERE id = ? AND state = {_ACTIVE} AND step = ? AND next_at = ?",
            (move.step, int(move.state), move.next_at, now, d.enrolment_id, d.step, d.next_at),
        )
        if cur.rowcount == 0:
            continue
        moved += 1
        conn.executemany(
            "INSERT INTO enrolment_steps (enrolment_id, step, automation_id, version, time,"
            " message_id) VALUES (?, ?, ?, ?, ?, ?)",
            [(d.enrolment_id, s, d.automation_id, d.version, now, m) for s, m in move.ran],
        )
    return moved


def step_stats(conn: sqlite3.Connection, automation_id: int, version: int) -> list[StepStats]:
    """Per step of the version that any enrolment reached: entered, sent (queued and not
    suppressed), opened, clicked (distinct messages), exited (walks that ended there)."""
    stats: dict[int, StepStats] = {}

    def of(step: int) -> StepStats:
        return stats.setdefault(step, StepStats(step))

    for step, entered, sent in conn.execute(
        "SELECT s.step, count(*), count(m.id) FROM enrolment_steps s"
        " LEFT JOIN messages m ON m.id = s.message_id AND m.state != ?"
        " WHERE s.automation_id = ? AND s.version = ? GROUP BY s.step",
        (int(MessageState.SUPPRESSED), automation_id, version),
    ):
        of(step).entered, of(step).sent = int(entered), int(sent)
    for step, type_, count in conn.execute(
        "SELECT s.step, ev.type, count(DISTINCT s.message_id) FROM enrolment_steps s"
        " JOIN events ev ON ev.message_id = s.message_id AND ev.type IN (?, ?)"
        " WHERE s.automation_id = ? AND s.version = ? AND s.message_id IS NOT NULL"
        " GROUP BY s.step, ev.type",
        (int(EventType.MESSAGE_OPENED), int(EventType.MESSAGE_CLICKED), automation_id, version),
    ):
        if type_ == int(EventType.MESSAGE_OPENED):
            of(step).opened = int(count)
        else:
            of(step).clicked = int(count)
    for step, count in conn.execute(
        f"SELECT step, count(*) FROM enrolments WHERE automation_id = ? AND version = ?"
        f" AND state != {_ACTIVE} GROUP BY step",
        (automation_id, version),
    ):
        of(step).exited = int(count)
    return [stats[s] for s in sorted(stats)]


def put_contact(
    conn: sqlite3.Connection, tenant_id: int, email: str, fields: dict[str, str], now: float
) -> None:
    """Record the contact's fields (merged over those known), keeping its tags."""
    conn.execute(
        "INSERT INTO automation_contacts (tenant_id, email_key, email, fields, tags, updated_at)"
        " VALUES (?, ?, ?, ?, '[]', ?) ON CONFLICT (tenant_id, email_key) DO UPDATE SET"
        " email = excluded.email, fields = json_patch(fields, excluded.fields),"
        " updated_at = excluded.updated_at",
        (tenant_id, suppression.key(email), email, json.dumps(fields), now),
    )


def change_tag(
    conn: sqlite3.Connection, tenant_id: int, email: str, tag: str, add: bool, now: float
) -> None:
    """Add ``tag`` to the contact's tags (recording the contact when new), or remove it."""
    put_contact(conn, tenant_id, email, {}, now)
    key = suppression.key(email)
    (tags_text,) = conn.execute(
        "SELECT tags FROM automation_contacts WHERE tenant_id = ? AND email_key = ?",
        (tenant_id, key),
    ).fetchone()
    tags = [t for t in json.loads(tags_text) if t != tag] + ([tag] if add else [])
    conn.execute(
        "UPDATE automation_contacts SET tags = ? WHERE tenant_id = ? AND email_key = ?",
        (json.dumps(tags), tenant_id, key),
    )


def contact(conn: sqlite3.Connection, tenant_id: int, email: str) -> Contact | None:
    """The contact as the agent knows it."""
    row = conn.execute(
        "SELECT email, fields, tags FROM automation_contacts WHERE tenant_id = ? AND email_key = ?",
        (tenant_id, suppression.key(email)),
    ).fetchone()
    return Contact(row[0], json.loads(row[1]), json.loads(row[2])) if row else None


def contacts_with_field(conn: sqlite3.Connection, tenant_id: int, name: str) -> list[Contact]:
    """The tenant's contacts that have the field ``name``."""
    rows = conn.execute(
        "SELECT email, fields, tags FROM automation_contacts WHERE tenant_id = ?"
        " AND json_extract(fields, '$.' || json_quote(?)) IS NOT NULL",
        (tenant_id, name),
    ).fetchall()
    return [Contact(r[0], json.loads(r[1]), json.loads(r[2])) for r in rows]


def date_automations(conn: sqlite3.Connection, today: int) -> list[tuple[Automation, int | None]]:
    """Active date-triggered automations not yet scanned ``today``, each with its last day
    scanned (None: never since it was activated)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS}, a.scanned_day FROM automations a {_JOIN}"
        " WHERE a.trigger = 'date' AND a.state = ? AND coalesce(a.scanned_day, -1) < ?",
        (int(AutomationState.ACTIVE), today),
    ).fetchall()
    return [(_automation(r), r[8]) for r in rows]


def mark_scanned(conn: sqlite3.Connection, automation_id: int, day: int) -> None:
    """Record that the date trigger has looked at every day up to ``day``."""
    conn.execute("UPDATE automations SET scanned_day = ? WHERE id = ?", (day, automation_id))

"""Signup forms, signups, their consent records and the signup changes log.

A form's definition is kept as the JSON :mod:`mailfleet.agent.signup.forms` writes; the store never
reads into it. Each signup has one consent record (GDPR Art. 7: what was agreed to, when,
from where; and when it was confirmed, from where). Every change of a signup's status
appends a row to ``signup_changes``, numbered per agent, which the desktop reads by cursor
as it reads events; so does every change the Audience API makes to an address (its fields, an
unsubscribe), which is about the address rather than one signup (``signup_id`` 0). Every
function runs inside the caller's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from mailfleet.agent.errors import AlreadyExists
from mailfleet.agent.store import suppression
from mailfleet.agent.store.feedback import day_of


class SignupState(IntEnum):
    """Where a signup stands (the numbers of ``mailfleet.v1.SignupStatus``)."""

    PENDING = 1
    CONFIRMED = 2
    EXPIRED = 3


class ChangeKind(IntEnum):
    """What a signup change says (the numbers of ``mailfleet.v1.SignupChangeKind``)."""

    SIGNED_UP = 1
    CONFIRMED = 2
    EXPIRED = 3
    FIELDS_UPDATED = 4  # an address's change: its fields
    UNSUBSCRIBED = 5  # an address's change: it left one list, or everything


# The kinds of change about an address rather than one signup.
ADDRESS_KINDS = (ChangeKind.FIELDS_UPDATED, ChangeKind.UNSUBSCRIBED)


@dataclass(frozen=True)
class StoredForm:
    """A form row: its definition (JSON) and today's signup count."""

    row_id: int
    tenant_id: int
    form_id: str
    definition: str
    updated_at: float
    signups_today: int


@dataclass(frozen=True)
class Visitor:
    """Where a form post or a confirmation came from."""

    ip: str
    user_agent: str


@dataclass(frozen=True)
class NewSignup:
    """A checked signup to store, with the consent given."""

    tenant_id: int
    form_row: int
    email: str
    fields: dict[str, str]
    lists: list[str]
    language: str
    consent_text: str
    consent_version: str
    visitor: Visitor
    idempotency_key: str | None = None  # an API caller's


@dataclass(frozen=True)
class Consent:
    """A signup's consent record."""

    time: float
    ip: str
    user_agent: str
    text: str
    version: str
    confirmed_at: float | None
    confirm_ip: str
    confirm_user_agent: str


@dataclass(frozen=True)
class SignupRow:
    """A signup as stored."""

    signup_id: int
    tenant_id: int
    form_row: int
    form_id: str
    email: str
    fields: dict[str, str]
    lists: list[str]
    language: str
    state: SignupState
    expires_at: float | None
    consent: Consent


@dataclass(frozen=True)
class Change:
    """One entry of the signup changes log, with the signup as it is now; an address's change
    (FIELDS_UPDATED, UNSUBSCRIBED) has no signup but the address, the fields it set or the
    list it left (``lists`` empty: every list)."""

    seq: int
    time: float
    kind: ChangeKind
    signup_or_none: SignupRow | None
    email: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    lists: list[str] = field(default_factory=list)

    @property
    def signup(self) -> SignupRow:
        """The signup a SIGNED_UP, CONFIRMED or EXPIRED change is about."""
        if self.signup_or_none is None:
            raise AttributeError(f"a {self.kind.name} change is about an address, not a signup")
        return self.signup_or_none


_FORM_COLUMNS = "f.id, f.tenant_id, f.public_id, f.definition, f.updated_at"
_SIGNUP_COLUMNS = (
    "s.id, s.tenant_id, s.form_id, f.public_id, s.email, s.fields, s.lists, s.language,"
    " s.state, s.expires_at, c.time, c.ip, c.user_agent, c.text, c.version, c.confirmed_at,"
    " c.confirm_ip, c.confirm_user_agent"
)
_SIGNUP_JOINS = "JOIN signup_forms f ON f.id = s.form_id JOIN consents c ON c.signup_id = s.id"


def _form(row: tuple[int, int, str, str, float], today: int) -> StoredForm:
    return StoredForm(row[0], row[1], row[2], row[3], row[4], today)


def _today(conn: sqlite3.Connection, form_row: int, now: float) -> int:
    row = conn.execute(
        "SELECT count FROM signup_daily WHERE form_id = ? AND day = ?", (form_row, day_of(now))
    ).fetchone()
    return int(row[0]) if row else 0


def put_form(
    conn: sqlite3.Connection, tenant_id: int, form_id: str, definition: str, now: float
) -> StoredForm:
    """Create the form or replace its definition (unchanged when it is the same); a deleted
    form is put back up.

    Raises AlreadyExists when another tenant has a form with this id.
    """
    row = conn.execute(
        "SELECT tenant_id, definition, deleted_at FROM signup_forms WHERE public_id = ?",
        (form_id,),
    ).fetchone()
    if row is not None and row[0] != tenant_id:
        raise AlreadyExists(f"form_id: {form_id!r} is taken on this agent; choose another id")
    if row is None:
        conn.execute(
            "INSERT INTO signup_forms (tenant_id, public_id, definition, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (tenant_id, form_id, definition, now, now),
        )
    elif row[1] != definition or row[2] is not None:
        conn.execute(
            "UPDATE signup_forms SET definition = ?, updated_at = ?, deleted_at = NULL"
            " WHERE public_id = ?",
            (definition, now, form_id),
        )
    found = form_by_id(conn, form_id, now)
    assert found is not None
    return found


def delete_form(conn: sqlite3.Connection, tenant_id: int, form_id: str, now: float) -> bool:
    """Take the tenant's form down (its row stays: its signups and consent records name it);
    whether it was up."""
    cur = conn.execute(
        "UPDATE signup_forms SET deleted_at = ? WHERE public_id = ? AND tenant_id = ?"
        " AND deleted_at IS NULL",
        (now, form_id, tenant_id),
    )
    return cur.rowcount > 0


def form_by_id(conn: sqlite3.Connection, form_id: str, now: float) -> StoredForm | None:
    """The form with this public id, whatever its tenant (the public pages' lookup); None
    for a deleted one."""
    row = conn.execute(
        f"SELECT {_FORM_COLUMNS} FROM signup_forms f"
        " WHERE f.public_id = ? AND f.deleted_at IS NULL",
        (form_id,),
    ).fetchone()
    return _form(row, _today(conn, row[0], now)) if row else None


def list_forms(conn: sqlite3.Connection, tenant_id: int, now: float) -> list[StoredForm]:
    """The tenant's forms in form id order (not the deleted ones)."""
    rows = conn.execute(
        f"SELECT {_FORM_COLUMNS}, coalesce(d.count, 0) FROM signup_forms f"
        " LEFT JOIN signup_daily d ON d.form_id = f.id AND d.day = ?"
        " WHERE f.tenant_id = ? AND f.deleted_at IS NULL ORDER BY f.public_id",
        (day_of(now), tenant_id),
    ).fetchall()
    return [_form(r[:5], int(r[5])) for r in rows]


def take_daily_slot(conn: sqlite3.Connection, form_row: int, cap: int | None, now: float) -> bool:
    """Count one signup against the form's cap for today; False (nothing counted) when the
    cap is reached. No cap (an API caller's signup) counts it and always allows it."""
    if cap is None:
        cap = 2**62
    cur = conn.execute(
        "INSERT INTO signup_daily (form_id, day, count) VALUES (?, ?, 1)"
        " ON CONFLICT (form_id, day) DO UPDATE SET count = count + 1 WHERE count < ?",
        (form_row, day_of(now), cap),
    )
    return cur.rowcount > 0


def _change(
    conn: sqlite3.Connection, tenant_id: int, kind: ChangeKind, signup_id: int, now: float
) -> None:
    conn.execute(
        "INSERT INTO signup_changes (tenant_id, time, kind, signup_id) VALUES (?, ?, ?, ?)",
        (tenant_id, now, int(kind), signup_id),
    )


def add(conn: sqlite3.Connection, new: NewSignup, now: float, expires_at: float | None) -> int:
    """Store a signup with its consent record: pending until ``expires_at``, or confirmed at
    once when that is None. Returns the signup's id."""
    state = SignupState.PENDING if expires_at is not None else SignupState.CONFIRMED
    cur = conn.execute(
        "INSERT INTO signups (tenant_id, form_id, email, email_key, fields, lists, language,"
        " state, created_at, expires_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new.tenant_id,
            new.form_row,
            new.email,
            suppression.key(new.email),
            json.dumps(new.fields),
            json.dumps(new.lists),
            new.language,
            int(state),
            now,
            expires_at,
            new.idempotency_key,
        ),
    )
    signup_id = cur.lastrowid
    assert signup_id is not None
    confirmed = now if state is SignupState.CONFIRMED else None
    conn.execute(
        "INSERT INTO consents (signup_id, time, ip, user_agent, text, version, confirmed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            signup_id,
            now,
            new.visitor.ip,
            new.visitor.user_agent,
            new.consent_text,
            new.consent_version,
            confirmed,
        ),
    )
    kind = ChangeKind.SIGNED_UP if state is SignupState.PENDING else ChangeKind.CONFIRMED
    _change(conn, new.tenant_id, kind, signup_id, now)
    return signup_id


def recent_pending(conn: sqlite3.Connection, form_row: int, email: str, since: float) -> int | None:
    """The id of the newest pending signup of ``email`` on the form made after ``since``."""
    row = conn.execute(
        "SELECT id FROM signups WHERE form_id = ? AND email_key = ? AND created_at > ?"
        " AND state = ? ORDER BY created_at DESC LIMIT 1",
        (form_row, suppression.key(email), since, int(SignupState.PENDING)),
    ).fetchone()
    return int(row[0]) if row else None


def get(conn: sqlite3.Connection, signup_id: int) -> SignupRow | None:
    """One signup with its consent record."""
    row = conn.execute(
        f"SELECT {_SIGNUP_COLUMNS} FROM signups s {_SIGNUP_JOINS} WHERE s.id = ?", (signup_id,)
    ).fetchone()
    return _signup(row) if row else None


def by_idempotency_key(conn: sqlite3.Connection, tenant_id: int, key: str) -> SignupRow | None:
    """The tenant's signup made with this API idempotency key."""
    row = conn.execute(
        f"SELECT {_SIGNUP_COLUMNS} FROM signups s {_SIGNUP_JOINS}"
        " WHERE s.tenant_id = ? AND s.idempotency_key = ?",
        (tenant_id, key),
    ).fetchone()
    return _signup(row) if row else None


def _signup(row: Sequence[Any]) -> SignupRow:
    sid, tenant, form_row, form_id, email, fields, lists, language, state, expires = row[:10]
    return SignupRow(
        sid,
        tenant,
        form_row,
        form_id,
        email,
        json.loads(fields),
        json.loads(lists),
        language,
        SignupState(state),
        expires,
        Consent(*row[10:]),
    )


def confirm(
    conn: sqlite3.Connection, signup: SignupRow, visitor: Visitor, now: float, scopes: list[str]
) -> None:
    """Confirm a pending signup: its consent record gets the confirmation, the address's
    unsubscribes of ``scopes`` are lifted, a change is logged."""
    conn.execute(
        "UPDATE signups SET state = ?, expires_at = NULL WHERE id = ?",
        (int(SignupState.CONFIRMED), signup.signup_id),
    )
    conn.execute(
        "UPDATE consents SET confirmed_at = ?, confirm_ip = ?, confirm_user_agent = ?"
        " WHERE signup_id = ?",
        (now, visitor.ip, visitor.user_agent, signup.signup_id),
    )
    lift_unsubscribes(conn, signup.tenant_id, signup.email, scopes)
    _change(conn, signup.tenant_id, ChangeKind.CONFIRMED, signup.signup_id, now)


def lift_unsubscribes(
    conn: sqlite3.Connection, tenant_id: int, email: str, scopes: list[str]
) -> int:
    """Remove the address's unsubscribe entries of ``scopes`` (never a bounce, complaint or
    manual entry); return how many there were."""
    before = conn.total_changes
    conn.executemany(
        "DELETE FROM suppressions WHERE tenant_id = ? AND email_key = ? AND scope = ?"
        " AND reason = ?",
        [
            (tenant_id, suppression.key(email), scope, int(suppression.Reason.UNSUBSCRIBE))
            for scope in scopes
        ],
    )
    return conn.total_changes - before


def unsubscribed(conn: sqlite3.Connection, tenant_id: int, email: str) -> bool:
    """Whether the address has an unsubscribe entry (of any scope)."""
    entries = suppression.lookup(conn, tenant_id, [email]).get(suppression.key(email), [])
    return any(e.reason is suppression.Reason.UNSUBSCRIBE for e in entries)


def expire_pending(conn: sqlite3.Connection, now: float, limit: int) -> int:
    """Expire up to ``limit`` pending signups whose link expired before ``now``; each gets an
    EXPIRED change. Returns how many."""
    expired = conn.execute(
        "UPDATE signups SET state = ? WHERE id IN (SELECT id FROM signups WHERE state = ?"
        " AND expires_at < ? ORDER BY expires_at LIMIT ?) RETURNING id, tenant_id",
        (int(SignupState.EXPIRED), int(SignupState.PENDING), now, limit),
    ).fetchall()
    conn.executemany(
        "INSERT INTO signup_changes (tenant_id, time, kind, signup_id) VALUES (?, ?, ?, ?)",
        [(tenant, now, int(ChangeKind.EXPIRED), sid) for sid, tenant in sorted(expired)],
    )
    return len(expired)


def delete_expired(conn: sqlite3.Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` expired signups whose link expired before ``before``, with their
    consent records (the visitor's IP address and user agent) and changes; return how many.

    Only signups nobody confirmed: a confirmed signup's consent record is the proof of consent
    and stays.
    """
    ids = [
        (r[0],)
        for r in conn.execute(
            "SELECT id FROM signups WHERE state = ? AND expires_at < ? ORDER BY expires_at LIMIT ?",
            (int(SignupState.EXPIRED), before, limit),
        )
    ]
    conn.executemany("DELETE FROM consents WHERE signup_id = ?", ids)
    conn.executemany("DELETE FROM signup_changes WHERE signup_id = ?", ids)
    conn.executemany("DELETE FROM signups WHERE id = ?", ids)
    return len(ids)


# A change with its signup, if it is about one.
_CHANGES = (
    f"SELECT ch.seq, ch.time, ch.kind, ch.email, ch.detail, {_SIGNUP_COLUMNS}"
    " FROM signup_changes ch LEFT JOIN signups s ON s.id = ch.signup_id"
    " LEFT JOIN signup_forms f ON f.id = s.form_id LEFT JOIN consents c ON c.signup_id = s.id"
)


def _change_row(r: Sequence[Any]) -> Change:
    kind = ChangeKind(r[2])
    if kind not in ADDRESS_KINDS:
        return Change(int(r[0]), float(r[1]), kind, _signup(r[5:]))
    detail = json.loads(r[4])
    return Change(
        int(r[0]),
        float(r[1]),
        kind,
        None,
        email=r[3],
        fields=detail.get("fields", {}),
        lists=detail.get("lists", []),
    )


def list_changes(
    conn: sqlite3.Connection, tenant_id: int, after_seq: int, limit: int
) -> list[Change]:
    """The tenant's changes with seq > ``after_seq``, oldest first, each with its signup."""
    rows = conn.execute(
        f"{_CHANGES} WHERE ch.tenant_id = ? AND ch.seq > ? ORDER BY ch.seq LIMIT ?",
        (tenant_id, after_seq, limit),
    ).fetchall()
    return [_change_row(r) for r in rows]


def add_address_change(
    conn: sqlite3.Connection,
    tenant_id: int,
    change: Change,
    idempotency_key: str | None = None,
) -> int:
    """Log an address's change (FIELDS_UPDATED with ``fields``, UNSUBSCRIBED with the list
    left in ``lists``, empty for everything), made with an API caller's key or (None) by the
    recipient on the preference page; returns its seq."""
    assert change.kind in ADDRESS_KINDS
    detail: dict[str, object] = {}
    if change.fields:
        detail["fields"] = change.fields
    if change.lists:
        detail["lists"] = change.lists
    cur = conn.execute(
        "INSERT INTO signup_changes (tenant_id, time, kind, signup_id, email, email_key, detail,"
        " idempotency_key) VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
        (
            tenant_id,
            change.time,
            int(change.kind),
            change.email,
            suppression.key(change.email),
            json.dumps(detail),
            idempotency_key,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def change_by_idempotency_key(conn: sqlite3.Connection, tenant_id: int, key: str) -> Change | None:
    """The tenant's address change made with this API idempotency key."""
    row = conn.execute(
        f"{_CHANGES} WHERE ch.tenant_id = ? AND ch.idempotency_key = ?", (tenant_id, key)
    ).fetchone()
    return _change_row(row) if row else None


def key_used(conn: sqlite3.Connection, tenant_id: int, key: str) -> bool:
    """Whether any API call of the tenant (a signup or an address change) used this key."""
    return (
        by_idempotency_key(conn, tenant_id, key) is not None
        or change_by_idempotency_key(conn, tenant_id, key) is not None
    )


@dataclass(frozen=True)
class AddressHistory:
    """What the agent holds about one address of a tenant: its signups (oldest first), the
    fields the API set on it (oldest first) and its suppression entries."""

    signups: list[SignupRow]
    updates: list[Change]
    entries: list[suppression.Entry]


def address_history(conn: sqlite3.Connection, tenant_id: int, email: str) -> AddressHistory:
    """Everything the agent holds about ``email`` (any spelling of the mailbox) for a tenant."""
    email_key = suppression.key(email)
    signup_rows = conn.execute(
        f"SELECT {_SIGNUP_COLUMNS} FROM signups s {_SIGNUP_JOINS}"
        " WHERE s.tenant_id = ? AND s.email_key = ? ORDER BY s.id",
        (tenant_id, email_key),
    ).fetchall()
    update_rows = conn.execute(
        f"{_CHANGES} WHERE ch.tenant_id = ? AND ch.email_key = ? AND ch.kind = ? ORDER BY ch.seq",
        (tenant_id, email_key, int(ChangeKind.FIELDS_UPDATED)),
    ).fetchall()
    entries = suppression.lookup(conn, tenant_id, [email]).get(email_key, [])
    return AddressHistory(
        [_signup(r) for r in signup_rows], [_change_row(r) for r in update_rows], entries
    )


def put_look(conn: sqlite3.Connection, tenant_id: int, definition: str, now: float) -> None:
    """Set the tenant's look for its public pages (JSON the store never reads into)."""
    conn.execute(
        "INSERT INTO tenant_looks (tenant_id, definition, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (tenant_id) DO UPDATE SET definition = excluded.definition,"
        " updated_at = excluded.updated_at",
        (tenant_id, definition, now),
    )


def look(conn: sqlite3.Connection, tenant_id: int) -> str | None:
    """The tenant's look as set, or None."""
    row = conn.execute(
        "SELECT definition FROM tenant_looks WHERE tenant_id = ?", (tenant_id,)
    ).fetchone()
    return str(row[0]) if row else None

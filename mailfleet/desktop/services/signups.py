"""What visitors did on the agents' signup forms, applied to the contacts exactly once.

Each agent numbers its signup changes (``seq``). A batch is applied in one transaction that also
moves the agent's ``signup_cursor`` past it, with the agent's row locked (as events are, see
``mailfleet.desktop.agents.eventsync``): a restart, or two desktops on one team database, never
apply a change twice or skip one. Consent records are keyed by (agent, signup), so even a
replayed change only rewrites the same row.

What a change does, as a marketer would expect it:

* *signed up*: a new address becomes a contact with status ``unconfirmed`` (not mailed by
  campaigns); an existing contact keeps its status (a subscribed one stays subscribed, a
  suppressed one stays suppressed). Its consent record is kept, pending.
* *confirmed*: the consent record gets its confirmation; the address's *unsubscribe*
  suppressions are lifted (the person asked again, and proved it by the link; a bounce or
  complaint stays), the contact is subscribed unless still suppressed, gets the form's fields
  and joins the signup's lists.
* *expired*: the consent record says so; the contact stays unconfirmed.
* *fields updated* (an app's ``Audience.UpdateContact``): the contact, if there is one, gets the
  fields; an update never creates a contact (it carries no consent).
* *unsubscribed* (an app's ``Audience.Unsubscribe``): the contact leaves the list named, or with
  none is suppressed as unsubscribed. The agent also logs the unsubscribe as an event, which the
  event sync applies the same way: whichever comes first does it, the other changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import (
    Agent,
    ConsentRecord,
    Contact,
    ContactStatus,
    SignupForm,
    Suppression,
    SuppressionReason,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import cursors, fields, lists, suppression, workspaces
from mailfleet.desktop.services.emails import check_address

SIGNED_UP = "signed_up"
CONFIRMED = "confirmed"
EXPIRED = "expired"
FIELDS_UPDATED = "fields_updated"
UNSUBSCRIBED = "unsubscribed"
# The consent record's status after each kind of change.
_RECORD_STATUS = {SIGNED_UP: "pending", CONFIRMED: "confirmed", EXPIRED: "expired"}
_COLUMNS = ("first_name", "last_name")


@dataclass(frozen=True, slots=True)
class Consent:
    """A signup's consent record as the agent reported it."""

    time: datetime
    ip: str = ""
    user_agent: str = ""
    text: str = ""
    version: str = ""
    confirmed_at: datetime | None = None
    confirm_ip: str = ""
    confirm_user_agent: str = ""


@dataclass(frozen=True, slots=True)
class SignupChange:
    """One entry of an agent's signup changes log (the contract's ``SignupChange``)."""

    seq: int
    kind: str
    signup_id: int
    form_id: str
    email: str
    consent: Consent
    fields: dict[str, str] = field(default_factory=dict)
    lists: tuple[str, ...] = ()


@dataclass
class AppliedSignups:
    """What one batch changed."""

    changes: int = 0
    cursor: int = 0
    signed_up: int = 0
    confirmed: int = 0


def apply_changes(
    engine: Engine,
    workspace_id: int,
    agent_id: int,
    changes: Sequence[SignupChange],
    next_cursor: int = 0,
) -> AppliedSignups:
    """Apply the changes after the agent's signup cursor and move it to ``next_cursor`` (or the
    last change's seq); changes at or below the cursor are skipped, so replays change nothing."""
    with engine.begin() as conn:
        cursor, fresh, target = cursors.claim(
            conn, Agent.signup_cursor, workspace_id, agent_id, changes, next_cursor
        )
        applied = AppliedSignups(len(fresh), target)
        specs = {spec.key: spec for spec in fields.list_fields(conn, workspace_id)}
        for change in sorted(fresh, key=lambda c: c.seq):
            _apply(conn, workspace_id, agent_id, change, specs)
            applied.signed_up += change.kind == SIGNED_UP
            applied.confirmed += change.kind == CONFIRMED
        cursors.move(conn, Agent.signup_cursor, agent_id, cursor, target)
        return applied


def _apply(
    conn: Connection,
    workspace_id: int,
    agent_id: int,
    change: SignupChange,
    specs: dict[str, fields.FieldSpec],
) -> None:
    email = check_address(change.email).email
    if email is None:
        return  # the agent checked the address; one the desktop cannot read is left out
    if change.kind == FIELDS_UPDATED:
        found = _existing(conn, workspace_id, email)
        if found is not None:
            values = {**_field_values(conn, found, change, specs), "updated_at": utcnow()}
            conn.execute(update(Contact).where(Contact.id == found).values(values))
        return
    if change.kind == UNSUBSCRIBED:
        _unsubscribe(conn, workspace_id, agent_id, email, change)
        return
    if change.kind not in _RECORD_STATUS:
        return
    contact_id = _contact(conn, workspace_id, email, change, specs)
    _record(conn, workspace_id, agent_id, contact_id, change)
    if change.kind == CONFIRMED:
        _confirm(conn, workspace_id, contact_id, email, change, specs)


def _values(change: SignupChange, specs: dict[str, fields.FieldSpec]) -> dict[str, Any]:
    """The change's field values by contact column or custom field key, as typed values."""
    values: dict[str, Any] = {}
    for key, raw in change.fields.items():
        if key in _COLUMNS:
            values[key] = raw[:200]
        elif key in specs:
            with contextlib.suppress(fields.FieldValueError):
                values[key] = fields.parse_value(specs[key].type, raw)
    return values


def _existing(conn: Connection, workspace_id: int, email: str) -> int | None:
    """The id of the contact with the mailbox ``email``, if any."""
    found = conn.scalar(
        select(Contact.id).where(
            Contact.workspace_id == workspace_id, Contact.email_key == mailbox_key(email)
        )
    )
    return None if found is None else int(found)


def _field_values(
    conn: Connection, contact_id: int, change: SignupChange, specs: dict[str, fields.FieldSpec]
) -> dict[str, Any]:
    """The contact's columns and fields once the change's field values are set on it."""
    contact = conn.execute(select(Contact.fields).where(Contact.id == contact_id)).one()
    values = _values(change, specs)
    columns = {k: values.pop(k) for k in _COLUMNS if k in values}
    return {**columns, "fields": {**(contact.fields or {}), **values}}


def _unsubscribe(
    conn: Connection, workspace_id: int, agent_id: int, email: str, change: SignupChange
) -> None:
    for list_id in change.lists:
        if list_id.isdigit():
            lists.leave(conn, workspace_id, int(list_id), email)
    if not change.lists:
        source = f"agent {agent_id} signup change {change.seq}"
        suppression.add(conn, workspace_id, email, SuppressionReason.UNSUBSCRIBED, source)


def _contact(
    conn: Connection,
    workspace_id: int,
    email: str,
    change: SignupChange,
    specs: dict[str, fields.FieldSpec],
) -> int:
    found = _existing(conn, workspace_id, email)
    if found is not None:
        return found
    values = _values(change, specs)
    now = utcnow()
    return int(
        conn.scalar(
            insert(Contact)
            .values(
                workspace_id=workspace_id,
                email=email,
                email_key=mailbox_key(email),
                first_name=values.pop("first_name", ""),
                last_name=values.pop("last_name", ""),
                status=ContactStatus.UNCONFIRMED.value,
                consent_source=f"signup form {change.form_id}",
                fields=values,
                created_at=now,
                updated_at=now,
            )
            .returning(Contact.id)
        )
        or 0
    )


def _record(
    conn: Connection, workspace_id: int, agent_id: int, contact_id: int, change: SignupChange
) -> None:
    consent = change.consent
    values = {
        "contact_id": contact_id,
        "form_id": change.form_id,
        "status": _RECORD_STATUS[change.kind],
        "signed_up_at": consent.time,
        "ip": consent.ip[:64],
        "user_agent": consent.user_agent[:500],
        "consent_text": consent.text,
        "consent_version": consent.version[:200],
        "confirmed_at": consent.confirmed_at,
        "confirm_ip": consent.confirm_ip[:64],
        "confirm_user_agent": consent.confirm_user_agent[:500],
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ConsentRecord).values(
        workspace_id=workspace_id, agent_id=agent_id, signup_id=change.signup_id, **values
    )
    if change.kind == SIGNED_UP:
        # A signed-up change read after its confirmation carries the confirmed signup: keep
        # the status a later change gave the record, whatever order replays come in.
        values.pop("status")
    conn.execute(
        statement.on_conflict_do_update(index_elements=["agent_id", "signup_id"], set_=values)
    )


def _confirm(
    conn: Connection,
    workspace_id: int,
    contact_id: int,
    email: str,
    change: SignupChange,
    specs: dict[str, fields.FieldSpec],
) -> None:
    key = mailbox_key(email)
    unsubscribed = conn.scalars(
        select(Suppression.id).where(
            Suppression.workspace_id == workspace_id,
            Suppression.email_key == key,
            Suppression.reason == SuppressionReason.UNSUBSCRIBED.value,
        )
    ).all()
    for entry_id in unsubscribed:
        suppression.lift(conn, workspace_id, entry_id)
    salt = suppression.workspace_salt(conn, workspace_id)
    still = conn.scalar(
        select(func.count())
        .select_from(Suppression)
        .where(
            Suppression.workspace_id == workspace_id,
            or_(
                Suppression.email_key == key,
                Suppression.email_hash.in_(suppression.hashes(salt, email)),
            ),
        )
    )
    update_values: dict[str, Any] = {
        **_field_values(conn, contact_id, change, specs),
        "consent_source": f"signup form {change.form_id}",
        "consent_at": change.consent.confirmed_at or change.consent.time,
        "updated_at": utcnow(),
    }
    if not still:
        update_values["status"] = ContactStatus.SUBSCRIBED.value
    conn.execute(update(Contact).where(Contact.id == contact_id).values(update_values))
    list_ids = [int(i) for i in change.lists if i.isdigit()]
    for list_id in list_ids:
        if workspaces.list_in_workspace(conn, workspace_id, list_id):
            workspaces.add_members(conn, list_id, [contact_id])


def consent_history(conn: Connection, workspace_id: int, contact_id: int) -> list[dict[str, Any]]:
    """A contact's consent records, oldest first, as JSON-ready data (the privacy export's);
    ``form`` is the form's name here ("" once the form is deleted)."""
    rows = conn.execute(
        select(ConsentRecord, SignupForm.name.label("form"))
        .outerjoin(SignupForm, SignupForm.form_id == ConsentRecord.form_id)
        .where(ConsentRecord.workspace_id == workspace_id, ConsentRecord.contact_id == contact_id)
        .order_by(ConsentRecord.signed_up_at, ConsentRecord.id)
    ).all()

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return [
        {
            "form_id": r.form_id,
            "form": r.form or "",
            "status": r.status,
            "signed_up_at": when(r.signed_up_at),
            "ip": r.ip,
            "user_agent": r.user_agent,
            "consent_text": r.consent_text,
            "consent_version": r.consent_version,
            "confirmed_at": when(r.confirmed_at),
            "confirm_ip": r.confirm_ip,
            "confirm_user_agent": r.confirm_user_agent,
        }
        for r in rows
    ]

"""Writing one batch of parsed import rows: insert new contacts, update or skip existing ones,
add them to the target list. Runs on the import's connection, one batch at a time."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, update

from desktop.db import bulk
from desktop.db.models import Base, Contact, ContactStatus
from desktop.services import suppression

_CONTACTS = Base.metadata.tables[Contact.__tablename__]


@dataclass(slots=True)
class Row:
    """A valid row: normalised address, names (None: not mapped), custom values as JSON."""

    line: int
    email: str
    first_name: str | None
    last_name: str | None
    custom_json: str

    def merge(self, later: Row) -> None:
        """Take the values of a later row for the same address (they win)."""
        self.first_name = later.first_name if later.first_name is not None else self.first_name
        self.last_name = later.last_name if later.last_name is not None else self.last_name
        if later.custom_json != "{}":
            merged = {**json.loads(self.custom_json), **json.loads(later.custom_json)}
            self.custom_json = json.dumps(merged)


@dataclass(slots=True)
class Batch:
    """Valid rows waiting to be written, deduplicated by address."""

    rows: dict[str, Row] = field(default_factory=dict)
    duplicates: list[tuple[Row, Row]] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Queue ``row``; a second row with the same address is kept as a duplicate."""
        first = self.rows.get(row.email)
        if first is None:
            self.rows[row.email] = row
        else:
            self.duplicates.append((first, row))


@dataclass(slots=True)
class Outcome:
    """What writing one batch did."""

    imported: int = 0
    updated: int = 0
    suppressed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class BatchWriter:
    """Writes batches for one import; holds the values it converts only once."""

    def __init__(
        self,
        conn: Connection,
        workspace_id: int,
        *,
        update_existing: bool,
        list_id: int | None,
        consent_source: str,
        now: datetime,
    ) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.update_existing = update_existing
        self.list_id = list_id
        self.consent_source = consent_source
        self.now = now
        self.lookup = suppression.load_lookup(conn, workspace_id)
        # Converted once to driver form for the bulk inserts (see desktop.db.bulk).
        self.now_driver = bulk.driver_value(conn, _CONTACTS.c.created_at, now)
        # Custom values arrive as JSON text, which both SQLite and PostgreSQL take as is.
        fields_type = _CONTACTS.c.fields.type.dialect_impl(conn.dialect)
        self.json_result = fields_type.result_processor(conn.dialect, None)
        self.sql = bulk.batches_for(conn)

    def write(self, batch: Batch) -> Outcome:
        """Write ``batch`` and say what became of each of its rows."""
        outcome = Outcome()
        if not batch.rows:
            return outcome
        existing = self._existing(list(batch.rows), with_fields=self.update_existing)
        for first, later in batch.duplicates:
            if self.update_existing:
                first.merge(later)
                outcome.updated += 1
            else:
                outcome.skipped["duplicate address in the file"] += 1
        new_rows: list[tuple[Any, ...]] = []
        new_emails: list[str] = []
        updates: list[dict[str, Any]] = []
        touched: list[int] = []
        for email, row in batch.rows.items():
            found = existing.get(email)
            if found is None:
                new_rows.append(self._new_contact(row, outcome))
                new_emails.append(email)
            elif self.update_existing:
                cid, stored = found
                updates.append(
                    {
                        "cid": cid,
                        "new_first": row.first_name,
                        "new_last": row.last_name,
                        "new_fields": {**(stored or {}), **json.loads(row.custom_json)},
                        "new_updated": self.now,
                    }
                )
                touched.append(cid)
            else:
                outcome.skipped["already a contact"] += 1
        new_ids = self.sql.insert_contacts(self.conn, new_rows)
        outcome.imported = len(new_rows)
        if updates:
            self._update(updates)
            outcome.updated += len(updates)
        if self.list_id is not None:
            # New contacts by id when the insert gave them back, else by address.
            self.sql.add_members(self.conn, self.workspace_id, self.list_id, self.now_driver,
                                 touched + new_ids, [] if new_ids else new_emails)  # fmt: skip
        return outcome

    def _existing(
        self, emails: list[str], *, with_fields: bool
    ) -> dict[str, tuple[int, dict[str, Any] | None]]:
        """Contacts of the workspace among ``emails``: id and (if asked) custom values."""
        if not emails:
            return {}
        found: dict[str, tuple[int, dict[str, Any] | None]] = {}
        decode = self.json_result
        for cid, email, stored in self.sql.existing(self.conn, self.workspace_id, emails,
                                                     with_fields):  # fmt: skip
            found[email] = (cid, decode(stored) if decode and stored is not None else stored)
        return found

    def _new_contact(self, row: Row, outcome: Outcome) -> tuple[Any, ...]:
        status = ContactStatus.SUBSCRIBED
        reason = self.lookup.reason(row.email)
        if reason is not None:
            status = suppression.STATUS_FOR_REASON[reason]
            outcome.suppressed += 1
        now = self.now_driver
        return (
            self.workspace_id,
            row.email,
            row.first_name or "",
            row.last_name or "",
            status.value,
            self.consent_source,
            now,
            row.custom_json,
            now,
            now,
        )

    def _update(self, updates: list[dict[str, Any]]) -> None:
        # Only mapped name columns are overwritten; COALESCE keeps the stored value otherwise.
        # The status is never touched: an update must not resubscribe anyone.
        statement = (
            update(Contact)
            .where(Contact.id == bindparam("cid"))
            .values(
                first_name=func.coalesce(bindparam("new_first"), Contact.first_name),
                last_name=func.coalesce(bindparam("new_last"), Contact.last_name),
                fields=bindparam("new_fields", type_=Contact.fields.type),
                updated_at=bindparam("new_updated", type_=Contact.updated_at.type),
            )
        )
        self.conn.execute(statement, updates)

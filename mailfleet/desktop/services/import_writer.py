"""Writing one parsed batch of an import: insert new contacts, update or skip existing ones,
add them to the target list. Runs on the import's connection, one batch at a time."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, update

from mailfleet.desktop.db import bulk
from mailfleet.desktop.db.models import Base, Contact, ContactStatus
from mailfleet.desktop.services.import_parse import ContactRow, ParsedBatch
from mailfleet.desktop.services.import_report import FIRST_NAME, LAST_NAME, SamePerson

_CONTACTS = Base.metadata.tables[Contact.__tablename__]
_EMAIL, _FIRST, _LAST, _STATUS, _FIELDS = (bulk.CONTACT_COLUMNS.index(name) for name in
    ("email", "first_name", "last_name", "status", "fields"))  # fmt: skip
# A new contact with another status was suppressed (unconfirmed: it has to confirm first).
_NOT_SUPPRESSED = (ContactStatus.SUBSCRIBED.value, ContactStatus.UNCONFIRMED.value)


@dataclass(slots=True)
class Outcome:
    """What writing one batch did."""

    imported: int = 0
    updated: int = 0
    suppressed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # Rows that are another spelling of a contact already in the workspace.
    same_person: list[SamePerson] = field(default_factory=list)


class BatchWriter:
    """Writes the batches of one import."""

    def __init__(
        self,
        conn: Connection,
        workspace_id: int,
        *,
        update_existing: bool,
        list_id: int | None,
        mapped_names: frozenset[str],
        now: datetime,
    ) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.update_existing = update_existing
        self.list_id = list_id
        self.mapped_names = mapped_names
        self.now = now
        self.now_driver = bulk.driver_value(conn, _CONTACTS.c.created_at, now)
        fields_type = _CONTACTS.c.fields.type.dialect_impl(conn.dialect)
        self.json_result = fields_type.result_processor(conn.dialect, None)
        self.sql = bulk.batches_for(conn)

    def write(self, batch: ParsedBatch) -> Outcome:
        """Write ``batch`` and say what became of each of its rows."""
        outcome = Outcome()
        # Repeats of a mailbox within the batch were merged into its first row (update) or
        # dropped (skip) by the parser; repeats across batches show up as existing contacts.
        if self.update_existing:
            outcome.updated += batch.duplicates
        elif batch.duplicates:
            outcome.skipped["duplicate address in the file"] += batch.duplicates
        if not batch.rows:
            return outcome
        existing = self._existing(list(batch.rows), with_fields=self.update_existing)
        new_rows: list[ContactRow] = []
        new_keys: list[str] = []
        updates: list[dict[str, Any]] = []
        touched: list[int] = []
        for key, row in batch.rows.items():
            found = existing.get(key)
            if found is None:
                new_rows.append(row)
                new_keys.append(key)
                continue
            cid, email, stored = found
            if email != row[_EMAIL]:
                outcome.same_person.append(SamePerson(None, row[_EMAIL], email))
            if self.update_existing:
                updates.append(self._update_values(cid, stored, row))
                touched.append(cid)
        if not self.update_existing and existing:
            outcome.skipped["already a contact"] += len(existing)
        new_ids = self.sql.insert_contacts(self.conn, new_rows)
        outcome.imported = len(new_rows)
        outcome.suppressed = sum(1 for row in new_rows if row[_STATUS] not in _NOT_SUPPRESSED)
        if updates:
            self._update(updates)
            outcome.updated += len(updates)
        if self.list_id is not None:
            # New contacts by id when the insert gave them back, else by mailbox key.
            self.sql.add_members(self.conn, self.workspace_id, self.list_id, self.now_driver,
                                 touched + new_ids, [] if new_ids else new_keys)  # fmt: skip
        return outcome

    def _existing(
        self, keys: list[str], *, with_fields: bool
    ) -> dict[str, tuple[int, str, dict[str, Any] | None]]:
        """Contacts of the workspace among the mailbox ``keys``, by key: id, address as
        stored and (if asked) custom values."""
        found: dict[str, tuple[int, str, dict[str, Any] | None]] = {}
        decode = self.json_result
        for cid, email, key, stored in self.sql.existing(self.conn, self.workspace_id, keys,
                                                          with_fields):  # fmt: skip
            found[key] = (cid, email, decode(stored) if decode and stored is not None else stored)
        return found

    def _update_values(
        self, cid: int, stored: dict[str, Any] | None, row: ContactRow
    ) -> dict[str, Any]:
        return {
            "cid": cid,
            # None keeps the stored name (COALESCE below) when no column is mapped to it.
            "new_first": row[_FIRST] if FIRST_NAME in self.mapped_names else None,
            "new_last": row[_LAST] if LAST_NAME in self.mapped_names else None,
            "new_fields": {**(stored or {}), **json.loads(row[_FIELDS])},
            "new_updated": self.now,
        }

    def _update(self, updates: list[dict[str, Any]]) -> None:
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

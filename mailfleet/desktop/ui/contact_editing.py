"""Opening the contact dialog for a new or an existing contact and saving it in the background.

What the dialog needs (the contact, the fields, the lists) is read on the runner; the save runs
on the write queue. Adding an address that is already a contact (any spelling of the mailbox)
opens that contact instead, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from mailfleet.desktop.services import contact_activity, contacts, signups, workspaces
from mailfleet.desktop.services.contact_activity import Activity
from mailfleet.desktop.services.contacts import ExistingContact
from mailfleet.desktop.services.fields import FieldSpec, list_fields
from mailfleet.desktop.ui.contact_dialog import ContactDialog
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import QObject, QWidget, Signal
from mailfleet.desktop.ui.tasks import TaskRunner

_BLANK: dict[str, Any] = {"email": "", "first_name": "", "last_name": "",
                          "status": "subscribed", "fields": {}, "lists": []}  # fmt: skip


@dataclass(frozen=True)
class _Form:
    values: dict[str, Any]
    specs: list[FieldSpec]
    lists: list[tuple[int, str]]
    consent: list[dict[str, Any]]
    activity: list[Activity] | None  # None when adding


class ContactEditor(QObject):
    """Adds and edits contacts for a page; ``saved`` fires with the contact's id."""

    saved = Signal(int)
    failed = Signal(str)  # a contact could not be read (deleted meanwhile): why

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner,
                 parent: QWidget) -> None:  # fmt: skip
        super().__init__(parent)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.page = parent
        self.dialog: ContactDialog | None = None  # the dialog open now, if any

    def add(self) -> None:
        """Open an empty dialog for a new contact."""
        self._open(None)

    def edit(self, contact_id: int, note: str = "") -> None:
        """Open the dialog on an existing contact (``note`` is shown in it, e.g. why)."""
        self._open(contact_id, note)

    def _open(self, contact_id: int | None, note: str = "") -> None:
        ws = self.workspace_id

        def read(conn: Connection) -> _Form:
            values = _BLANK if contact_id is None else contacts.get_contact(conn, ws, contact_id)
            if contact_id is None:
                return _Form(values, list_fields(conn, ws), workspaces.lists(conn, ws), [], None)
            return _Form(values, list_fields(conn, ws), workspaces.lists(conn, ws),
                         signups.consent_history(conn, ws, contact_id),
                         contact_activity.timeline(conn, ws, contact_id))  # fmt: skip

        def show(form: _Form) -> None:
            dialog = ContactDialog(form.values, form.specs, self.page, lists=form.lists,
                                   adding=contact_id is None, consent=form.consent,
                                   activity=form.activity)  # fmt: skip
            dialog.submitted.connect(lambda: self._save(dialog, contact_id))
            if note:
                dialog.show_note(note)
            self.dialog = dialog
            dialog.open()

        self.runner.read(self.engine, "Reading a contact", read, show,
                         on_error=lambda exc: self._failed(None, exc))  # fmt: skip

    def _save(self, dialog: ContactDialog, contact_id: int | None) -> None:
        changes, ws = dialog.changes(), self.workspace_id

        def write(conn: Connection) -> int:
            if contact_id is None:
                return contacts.create_contact(conn, ws, **changes)
            contacts.update_contact(conn, ws, contact_id, **changes)
            return contact_id

        def done(saved_id: int) -> None:
            dialog.done_saving()
            self.saved.emit(saved_id)

        self.runner.write(self.engine, "Saving a contact", write, done,
                          on_error=lambda exc: self._failed(dialog, exc))  # fmt: skip

    def _failed(self, dialog: ContactDialog | None, exc: Exception) -> None:
        if isinstance(exc, ExistingContact) and dialog is not None:
            dialog.reject()
            self.edit(exc.contact_id, f"{exc.email} is already a contact: here it is.")
            return
        if dialog is not None:
            dialog.show_error(explain(exc))
        else:
            self.failed.emit(explain(exc))

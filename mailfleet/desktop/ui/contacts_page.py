"""The Contacts page: search as you type, filters, the table, edit and bulk actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from mailfleet.desktop.db.models import ContactStatus
from mailfleet.desktop.services import contacts, export, privacy, segments, workspaces
from mailfleet.desktop.services.contacts import ContactFilter
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui.contact_editing import ContactEditor
from mailfleet.desktop.ui.contacts_model import STATUS_COLUMN, ContactsModel
from mailfleet.desktop.ui.empty_state import EmptyState
from mailfleet.desktop.ui.field_manager import FieldManager
from mailfleet.desktop.ui.list_manager import ListManager
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QModelIndex,
    QPushButton,
    Qt,
    QTableView,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

SEARCH_DELAY_MS = 250


# (id, name) of the workspace's lists, and (id, name, rules) of its saved segments.
_Lists = list[tuple[int, str]]
_Segments = list[tuple[int, str, dict[str, Any]]]


NO_CONTACTS = (
    "<h3>No contacts yet</h3><p>Start by importing your contacts from a CSV file (any "
    "spreadsheet can save one). Mailfleet reads its columns, checks every address and shows "
    "what it found before anything is saved.</p>"
)


class ContactsPage(QWidget):
    """Browse and act on the workspace's contacts; ``exported`` fires after an export."""

    exported = Signal(int)

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.model = ContactsModel(engine, workspace_id, runner)
        self._latest = Latest()

        self.search = QLineEdit(placeholderText="Search email or name…")
        self.search.setAccessibleName("Search contacts")
        self.search.setClearButtonEnabled(True)
        self.list_filter = QComboBox()
        self.status_filter = QComboBox()
        self.status_filter.addItem("Any status", None)
        for status in ContactStatus:
            self.status_filter.addItem(contacts.status_text(status).capitalize(), status.value)
        self.segment_filter = QComboBox()
        self.count_label = QLabel("Loading…")
        self._debounce = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._debounce.start)
        for combo in (self.list_filter, self.status_filter, self.segment_filter):
            combo.currentIndexChanged.connect(self.apply_filter)

        self.table = QTableView()
        self.table.setAccessibleName("Contacts")
        self.table.setModel(self.model)
        # By address, A to Z (Qt's default indicator is descending, which sorting then applies).
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 280)
        # Wide enough for the longest status, "pending confirmation".
        self.table.setColumnWidth(STATUS_COLUMN, self.fontMetrics().horizontalAdvance("m" * 16))
        self.table.verticalHeader().setDefaultSectionSize(24)
        # Enter or a double click opens the contact.
        self.table.activated.connect(self.edit)
        self.model.loaded.connect(self._show_count)
        self.empty = EmptyState(self.table, NO_CONTACTS, "Import contacts…")

        self.editor = ContactEditor(engine, workspace_id, runner, self)
        self.editor.saved.connect(lambda _id: self.apply_filter())
        self.editor.failed.connect(lambda message: self._error(ValueError(message)))
        manage = QHBoxLayout()
        self.new_button = QPushButton("Add contact…")
        self.new_button.clicked.connect(self.editor.add)
        self.fields_button = QPushButton("Fields…")
        self.fields_button.clicked.connect(self.open_fields)
        self.lists_button = QPushButton("Lists…")
        self.lists_button.clicked.connect(self.open_lists)
        for button in (self.new_button, self.fields_button, self.lists_button):
            manage.addWidget(button)
        manage.addStretch(1)

        buttons = QHBoxLayout()
        self.add_to_list_button = QPushButton("Add to list…")
        self.remove_from_list_button = QPushButton("Remove from list…")
        self.unsubscribe_button = QPushButton("Unsubscribe")
        self.delete_button = QPushButton("Delete")
        self.export_button = QPushButton("Export…")
        self.privacy_button = QPushButton("Privacy export…")
        self.erase_button = QPushButton("Erase…")
        self.export_button.clicked.connect(lambda: self._ask_path("contacts.csv", self.export_to))
        self.privacy_button.clicked.connect(
            lambda: self._ask_path("contact.json", self.privacy_export_to)
        )
        self.erase_button.clicked.connect(self.erase_selected)
        self.add_to_list_button.clicked.connect(lambda: self._list_action(add=True))
        self.remove_from_list_button.clicked.connect(lambda: self._list_action(add=False))
        self.unsubscribe_button.clicked.connect(self.unsubscribe_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        for button in (self.add_to_list_button, self.remove_from_list_button,
                       self.unsubscribe_button, self.delete_button, self.export_button,
                       self.privacy_button, self.erase_button):  # fmt: skip
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.count_label)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        filters.addWidget(self.list_filter, 1)
        filters.addWidget(self.segment_filter, 1)
        filters.addWidget(self.status_filter, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(manage)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        """Reload the filter choices (in the background), then the table."""
        ws = self.workspace_id

        def read(conn: Connection) -> tuple[_Lists, _Segments]:
            return workspaces.lists(conn, ws), segments.saved(conn, ws)

        self.runner.read(self.engine, "Reading lists and segments", read,
                         self._latest.only(lambda found: self._show_choices(*found)))  # fmt: skip

    def refresh_in_place(self) -> None:
        """Re-read the contacts in view (the data changed underneath), keeping the selection
        and the scroll position when the count is the same."""
        self.model.reload(in_place=True, warm_row=max(self.table.rowAt(0), 0))

    def _show_choices(self, lists: _Lists, saved: _Segments) -> None:
        for combo, first, items in (
            (self.list_filter, "All lists", [(name, lid) for lid, name in lists]),
            (self.segment_filter, "No segment", [(name, rules) for _, name, rules in saved]),
        ):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(first, None)
            for name, data in items:
                combo.addItem(name, data)
            combo.setCurrentIndex(max(combo.findText(current), 0))
            combo.blockSignals(False)
        self.apply_filter()

    def current_filter(self) -> ContactFilter:
        """The filter the controls describe."""
        status = self.status_filter.currentData()
        return ContactFilter(
            search=self.search.text(),
            list_id=self.list_filter.currentData(),
            rules=self.segment_filter.currentData(),
            status=ContactStatus(status) if status else None,
        )

    def apply_filter(self) -> None:
        """Show the contacts matching the controls."""
        self._debounce.stop()
        self.count_label.setText("Counting…")
        self.model.set_filter(self.current_filter())

    def _show_count(self, total: int) -> None:
        self.count_label.setText(counted(total, "contact"))
        self.empty.set_shown(total == 0 and self.model.filter == ContactFilter())

    def selected_ids(self) -> list[int]:
        """Ids of the selected contacts."""
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        found = (self.model.contact(row) for row in sorted(rows))
        return [c.id for c in found if c is not None]

    def _write(self, description: str, action: Callable[[Connection], Any]) -> None:
        self.runner.write(self.engine, description, action, lambda _: self.apply_filter(),
                          on_error=self._error)  # fmt: skip

    def _error(self, exc: Exception) -> None:
        QMessageBox.warning(self, "Contacts", explain(exc))

    def _list_action(self, *, add: bool) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        ws = self.workspace_id
        self.runner.read(self.engine, "Reading lists", lambda c: workspaces.lists(c, ws),
                         lambda lists: self._ask_list(ids, lists, add=add),
                         on_error=self._error)  # fmt: skip

    def _ask_list(self, ids: list[int], lists: _Lists, *, add: bool) -> None:
        if not lists:
            return
        names = [name for _, name in lists]
        name, ok = QInputDialog.getItem(self, "Lists", "List:", names, 0, False)
        if not ok:
            return
        list_id = dict((n, i) for i, n in lists)[name]
        ws = self.workspace_id
        if add:
            self._write("Adding to list",
                        lambda c: contacts.add_to_list(c, ws, ids, list_id))  # fmt: skip
        else:
            self._write("Removing from list",
                        lambda c: contacts.remove_from_list(c, ws, ids, list_id))  # fmt: skip

    def unsubscribe_selected(self) -> None:
        """Unsubscribe the selected contacts (and suppress their addresses)."""
        ids = self.selected_ids()
        if ids:
            self._write(
                "Unsubscribing",
                lambda c: contacts.unsubscribe(c, self.workspace_id, ids, "desktop"),
            )

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected contacts after asking."""
        ids = self.selected_ids()
        if not ids:
            return
        if confirm:
            answer = QMessageBox.question(self, "Delete", f"Delete {counted(len(ids), 'contact')}?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._write("Deleting", lambda c: contacts.delete_contacts(c, self.workspace_id, ids))

    def _ask_path(self, suggested: str, then: Callable[[Path], None]) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save as", suggested)
        if name:
            then(Path(name))

    def export_to(self, path: Path) -> None:
        """Export the contacts the view shows (filter, list, segment) as CSV, in the background.
        ``exported`` fires with the row count."""
        engine, ws, flt = self.engine, self.workspace_id, self.current_filter()

        def work(conn: Connection) -> int:
            return export.export_contacts(conn, ws, path, contacts.condition(conn, ws, flt))

        self.runner.read(engine, "Exporting contacts", work, self.exported.emit,
                         on_error=self._error)  # fmt: skip

    def privacy_export_to(self, path: Path) -> None:
        """Write everything held about the (first) selected contact to ``path`` as JSON."""
        ids = self.selected_ids()
        if not ids:
            return
        engine, ws = self.engine, self.workspace_id

        def work(conn: Connection) -> int:
            privacy.export_contact(conn, ws, ids[0], path)
            return 1

        self.runner.read(engine, "Exporting contact data", work, self.exported.emit,
                         on_error=self._error)  # fmt: skip

    def erase_selected(self, *, confirm: bool = True) -> None:
        """Erase the selected contacts: personal data removed, a hashed suppression kept."""
        ids = self.selected_ids()
        if not ids:
            return
        if confirm:
            answer = QMessageBox.question(
                self, "Erase", f"Erase {counted(len(ids), 'contact')}? Only a hash of each address "
                "stays, on the suppression list, so they are never mailed again.",
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                return
        ws = self.workspace_id

        def erase(conn: Connection) -> None:
            for contact_id in ids:
                privacy.erase_contact(conn, ws, contact_id)

        self._write("Erasing", erase)

    def edit(self, index: QModelIndex) -> None:
        """Open the edit dialog for the contact on ``index``'s row."""
        contact = self.model.contact(index.row())
        if contact is not None:
            self.editor.edit(contact.id)

    def open_fields(self) -> FieldManager:
        """Open the field manager; the view re-reads its choices after a change."""
        manager = FieldManager(self.engine, self.workspace_id, self.runner, self)
        manager.changed.connect(self.refresh)
        manager.open()
        return manager

    def open_lists(self) -> ListManager:
        """Open the list manager; the view re-reads its choices after a change."""
        manager = ListManager(self.engine, self.workspace_id, self.runner, self)
        manager.changed.connect(self.refresh)
        manager.open()
        return manager

    def focus_search(self) -> None:
        """Put the cursor in the search box."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

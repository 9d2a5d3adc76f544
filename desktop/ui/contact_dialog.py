"""Editing one contact: names, status and custom field values."""

from __future__ import annotations

from typing import Any

from desktop.db.models import ContactStatus
from desktop.services.fields import FieldSpec, FieldValueError, parse_value
from desktop.ui.qt import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QWidget


class ContactDialog(QDialog):
    """A form for one contact (``values`` as ``contacts.get_contact`` reads them, with the
    workspace's field ``specs``); ``changes()`` gives what was entered."""

    def __init__(
        self, values: dict[str, Any], specs: list[FieldSpec], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.specs = specs
        self.setWindowTitle(values["email"])
        form = QFormLayout(self)
        self.first_name = QLineEdit(values["first_name"])
        self.last_name = QLineEdit(values["last_name"])
        self.status = QComboBox()
        for status in ContactStatus:
            self.status.addItem(status.value.capitalize(), status.value)
        self.status.setCurrentIndex(self.status.findData(values["status"]))
        form.addRow("First name", self.first_name)
        form.addRow("Last name", self.last_name)
        form.addRow("Status", self.status)
        self.field_edits: dict[str, QLineEdit] = {}
        for spec in self.specs:
            current = values["fields"].get(spec.key)
            edit = QLineEdit("" if current is None else str(current))
            edit.setPlaceholderText(spec.type.value)
            self.field_edits[spec.key] = edit
            form.addRow(spec.label, edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def field_values(self) -> dict[str, Any]:
        """The typed custom values entered; raises ``FieldValueError`` on a bad one."""
        found: dict[str, Any] = {}
        for spec in self.specs:
            try:
                value = parse_value(spec.type, self.field_edits[spec.key].text())
            except FieldValueError as exc:
                raise FieldValueError(f"{spec.label}: {exc}") from None
            if value is not None:
                found[spec.key] = value
        return found

    def changes(self) -> dict[str, Any]:
        """The entered values as ``update_contact`` keywords (read on the GUI thread)."""
        return {
            "first_name": self.first_name.text().strip(),
            "last_name": self.last_name.text().strip(),
            "status": ContactStatus(self.status.currentData()),
            "fields": self.field_values(),
        }

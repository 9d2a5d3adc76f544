"""Adding or editing one contact: address (when adding), names, status, custom field values
with an editor for each type, and the lists it is on.

The dialog stays open while its values are saved in the background: ``submitted`` fires with
valid entries, and the page either closes it (``done_saving``) or shows why the database
refused them (``show_error``), with everything typed still there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailfleet.desktop.db.models import ContactStatus, FieldType
from mailfleet.desktop.services import contacts, reasons
from mailfleet.desktop.services.contact_activity import Activity
from mailfleet.desktop.services.fields import (
    TYPE_LABELS,
    FieldSpec,
    FieldValueError,
    parse_value,
    value_text,
)
from mailfleet.desktop.ui import dates, theme
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    Qt,
    QWidget,
    Signal,
)

_PLACEHOLDERS = {
    FieldType.TEXT: "text",
    FieldType.NUMBER: "a number, e.g. 42 or 3.5",
    FieldType.DATE: "a date: YYYY-MM-DD",
}


class ContactDialog(QDialog):
    """A form for one contact: ``values`` as ``contacts.get_contact`` reads them (empty ones
    when ``adding``), the workspace's field ``specs`` and, to choose them, its ``lists`` as
    (id, name). ``changes()`` gives what was entered."""

    submitted = Signal()

    def __init__(
        self,
        values: dict[str, Any],
        specs: list[FieldSpec],
        parent: QWidget | None = None,
        *,
        lists: list[tuple[int, str]] | None = None,
        adding: bool = False,
        consent: list[dict[str, Any]] | None = None,
        activity: list[Activity] | None = None,
    ) -> None:
        super().__init__(parent)
        self.specs = specs
        self.adding = adding
        self.setWindowTitle("New contact" if adding else values["email"])
        self.setMinimumWidth(520)
        form = QFormLayout(self)
        self.email = QLineEdit(values.get("email", ""), placeholderText="name@example.com")
        self.email.setReadOnly(not adding)
        self.first_name = QLineEdit(values.get("first_name", ""))
        self.last_name = QLineEdit(values.get("last_name", ""))
        self.status = QComboBox()
        for status in ContactStatus:
            self.status.addItem(contacts.status_text(status).capitalize(), status.value)
        self.status.setCurrentIndex(
            max(self.status.findData(values.get("status", ContactStatus.SUBSCRIBED.value)), 0)
        )
        form.addRow("Email", self.email)
        form.addRow("First name", self.first_name)
        form.addRow("Last name", self.last_name)
        form.addRow("Status", self.status)
        current: dict[str, Any] = values.get("fields", {})
        self.field_edits: dict[str, QLineEdit] = {}
        self.field_flags: dict[str, QComboBox] = {}
        for spec in self.specs:
            value = current.get(spec.key)
            label = f"{spec.label} ({TYPE_LABELS[spec.type].lower()})"
            if spec.type is FieldType.BOOLEAN:
                flag = QComboBox()
                for text, data in (("—", None), ("Yes", True), ("No", False)):
                    flag.addItem(text, data)
                flag.setCurrentIndex(flag.findData(value) if isinstance(value, bool) else 0)
                self.field_flags[spec.key] = flag
                form.addRow(label, flag)
            else:
                edit = QLineEdit("" if value is None else value_text(value))
                edit.setPlaceholderText(_PLACEHOLDERS[spec.type])
                self.field_edits[spec.key] = edit
                form.addRow(label, edit)
        self.lists: QListWidget | None = None
        if lists is not None:
            self.lists = QListWidget()
            member = set(values.get("lists", []))
            for list_id, name in lists:
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = list_id in member
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                item.setData(Qt.ItemDataRole.UserRole, list_id)
                self.lists.addItem(item)
            self.lists.setMaximumHeight(120)
            form.addRow("Lists", self.lists)
        if consent:
            self.consent = QLabel("\n".join(consent_line(r) for r in consent))
            self.consent.setWordWrap(True)
            form.addRow("Consent", self.consent)
        self.activity: QListWidget | None = None
        if activity is not None:
            self.activity = QListWidget()
            self.activity.setAccessibleName("Activity, newest first")
            self.activity.setMinimumHeight(140)
            self.activity.setWordWrap(True)
            self.activity.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            for entry in activity:
                when = dates.show(entry.when) if entry.when is not None else "—"
                self.activity.addItem(f"{when}   {activity_text(entry)}")
            form.addRow("Activity", self.activity)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        # A complaint about what was typed goes once the typing changes.
        for edit in (self.email, *self.field_edits.values()):
            edit.textEdited.connect(lambda _text: self._clear_error())
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def field_values(self) -> dict[str, Any]:
        """The typed custom values entered; raises ``FieldValueError`` on a bad one."""
        found: dict[str, Any] = {}
        for spec in self.specs:
            if spec.key in self.field_flags:
                value = self.field_flags[spec.key].currentData()
            else:
                try:
                    value = parse_value(spec.type, self.field_edits[spec.key].text())
                except FieldValueError as exc:
                    raise FieldValueError(f"{spec.label}: {exc}") from None
            if value is not None:
                found[spec.key] = value
        return found

    def chosen_lists(self) -> list[int]:
        """The ids of the checked lists."""
        if self.lists is None:
            return []
        items = (self.lists.item(row) for row in range(self.lists.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items
                if i.checkState() == Qt.CheckState.Checked]  # fmt: skip

    def changes(self) -> dict[str, Any]:
        """The entered values as ``update_contact`` keywords (``create_contact`` ones when
        adding); read on the GUI thread."""
        found: dict[str, Any] = {
            "first_name": self.first_name.text().strip(),
            "last_name": self.last_name.text().strip(),
            "status": ContactStatus(self.status.currentData()),
            "fields": self.field_values(),
        }
        if self.lists is not None:
            found["lists"] = self.chosen_lists()
        if self.adding:
            found["email"] = self.email.text()
        return found

    def submit(self) -> None:
        """Check what can be checked here; ``submitted`` fires when it is all valid."""
        if self.adding and not self.email.text().strip():
            self.show_error("Type the contact's email address.")
            return
        try:
            self.field_values()
        except FieldValueError as exc:
            self.show_error(explain(exc))
            return
        self.show_note("Saving…")
        self.save_button.setEnabled(False)
        self.submitted.emit()

    def show_error(self, message: str) -> None:
        """Say why the entries were not saved; they stay for correcting."""
        self.error.setStyleSheet(f"color: {theme.current().danger}")
        self.error.setText(f"⚠ {message}")
        self.save_button.setEnabled(True)

    def _clear_error(self) -> None:
        if self.error.text().startswith("⚠"):
            self.error.setText("")

    def show_note(self, message: str) -> None:
        """Say something about the contact shown (not an error)."""
        self.error.setStyleSheet("")
        self.error.setText(message)

    def done_saving(self) -> None:
        """The entries are saved: close."""
        self.accept()


def consent_line(record: dict[str, Any]) -> str:
    """One consent record (``services.signups.consent_history``) in a sentence."""

    def at(key: str) -> str:
        return dates.show(datetime.fromisoformat(record[key])) if record[key] else ""

    line = f"Signed up on form {record['form'] or record['form_id']} {at('signed_up_at')}"
    if record["ip"]:
        line += f" from {record['ip']}"
    if record["consent_version"]:
        line += f", consent text version {record['consent_version']}"
    if record["confirmed_at"]:
        return f"{line}; confirmed {at('confirmed_at')}."
    pending = "expired unconfirmed" if record["status"] == "expired" else "not confirmed yet"
    return f"{line}; {pending}."


# One sentence per kind of activity (``services/contact_activity.KINDS``); {about} is the
# campaign's or the form's name.
ACTIVITY = {
    "signed up": "Signed up on the form “{about}”",
    "confirmed": "Confirmed the subscription (form “{about}”)",
    "asked to confirm": "Was sent the confirmation mail of the form “{about}”",
    "sent": "Was sent “{about}”",
    "delivered": "“{about}” was delivered",
    "bounced": "“{about}” bounced: {why}",
    "failed": "“{about}” could not be delivered: {why}",
    "opened": "Opened “{about}”",
    "clicked": "Clicked a link in “{about}”",
    "unsubscribed": "Unsubscribed",
    "complained": "Marked a message as spam",
    "suppressed": "Put on the suppression list ({why})",
}
ADDED = {
    "import": "Imported from the file {about}",
    "form": "Added by a signup form",
    "hand": "Added by hand in the desktop",
    "other": "Added",
}
SUPPRESSED_WHY = {"bounced": "its mail bounced", "manual": "added by hand",
                  "erased": "a privacy erasure"}  # fmt: skip


def activity_text(entry: Activity) -> str:
    """One activity entry in a sentence."""
    if entry.kind == "added":
        source = entry.about
        if source.startswith("import: "):
            return ADDED["import"].format(about=source.removeprefix("import: "))
        if source.startswith("signup form"):
            return ADDED["form"]
        return ADDED["hand"] if source == contacts.MANUAL_SOURCE else ADDED["other"]
    if entry.kind == "suppressed":
        return ACTIVITY["suppressed"].format(why=SUPPRESSED_WHY.get(entry.about, "by Mailfleet"))
    why = reasons.explain(entry.detail).sentence if entry.kind in ("bounced", "failed") else ""
    why = why[:1].lower() + why[1:].rstrip(".")
    return ACTIVITY[entry.kind].format(about=entry.about, why=why)

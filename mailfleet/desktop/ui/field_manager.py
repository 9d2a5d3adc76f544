"""The field manager (from the Contacts page): the custom fields with their types, and adding,
renaming, retyping and deleting them. Each change that touches contacts says first what it will
do (how many values, which segments and templates) and asks."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine

from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import field_admin
from mailfleet.desktop.services.field_admin import FieldUsage, RetypePlan
from mailfleet.desktop.services.fields import TYPE_LABELS, FieldSpec, create_field, field_key
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui.confirm import ask, names
from mailfleet.desktop.ui.item_manager import ItemManager
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import TaskRunner

COLUMNS = ("Field", "Merge tag", "Type", "Contacts with a value")


class FieldManager(ItemManager):
    """Lists the workspace's custom fields and changes them; ``changed`` fires after a change
    (the contacts, segments and templates pages re-read what they show)."""

    empty_text = "No custom fields yet: add one below."

    def __init__(
        self, engine: Engine, workspace_id: int, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__("Fields", list(COLUMNS), engine, workspace_id, runner, parent)
        self.resize(640, 420)
        self.label = QLineEdit(placeholderText="Field name, e.g. Signup date")
        self.type = QComboBox()
        for ftype, text in TYPE_LABELS.items():
            self.type.addItem(text, ftype.value)
        self.add_button = QPushButton("Add field")
        self.rename_button = QPushButton("Rename")
        self.retype_button = QPushButton("Change type…")
        self.delete_button = QPushButton("Delete…")
        self.add_button.clicked.connect(self.add)
        self.rename_button.clicked.connect(self.rename)
        self.retype_button.clicked.connect(self.retype)
        self.delete_button.clicked.connect(self.delete)

        edit = QHBoxLayout()
        edit.addWidget(QLabel("Name"))
        edit.addWidget(self.label, 2)
        edit.addWidget(QLabel("Type"))
        edit.addWidget(self.type, 1)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.retype_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)  # apart: it cannot be undone
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("Custom fields hold what an import or a form adds to a contact. "
                   "Select one to rename it, change its type or delete it.")
        )  # fmt: skip
        layout.addWidget(self.table, 1)
        layout.addLayout(edit)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.selected(None)
        self.refresh()

    def read_items(self, conn: Connection) -> list[tuple[FieldSpec, int]]:
        """The fields, each with how many contacts hold a value."""
        return field_admin.overview(conn, self.workspace_id)

    def cells(self, item: tuple[FieldSpec, int]) -> tuple[str, ...]:
        """Name, merge tag, type and how many contacts hold a value."""
        spec, held = item
        return spec.label, "{{ " + spec.key + " }}", TYPE_LABELS[spec.type], f"{held:,}"

    def identity(self, item: tuple[FieldSpec, int]) -> str:
        """The field's key."""
        return item[0].key

    def spec(self) -> FieldSpec | None:
        """The selected field."""
        item = self.current()
        return None if item is None else item[0]

    def selected(self, item: tuple[FieldSpec, int] | None) -> None:
        """Show the chosen field's name and type for editing."""
        for button in (self.rename_button, self.retype_button, self.delete_button):
            button.setEnabled(item is not None)
        if item is not None:
            self.label.setText(item[0].label)
            self.type.setCurrentIndex(self.type.findData(item[0].type.value))

    def chosen_type(self) -> FieldType:
        """The type the combo box shows."""
        return FieldType(self.type.currentData())

    # -- changing -----------------------------------------------------------------------------
    def add(self) -> None:
        """Add a field with the name and type entered."""
        label, ftype, ws = self.label.text().strip(), self.chosen_type(), self.workspace_id
        if not label:
            self.message.setText("Type a name for the new field.")
            return

        def added(spec: FieldSpec) -> str:
            kind = TYPE_LABELS[spec.type].lower()
            return f"Added {spec.label} ({kind}): merge tag {{{{ {spec.key} }}}}."

        self.write("Adding a field", lambda c: create_field(c, ws, label, ftype), added,
                   select=lambda spec: spec.key)  # fmt: skip

    def rename(self) -> None:
        """Rename the selected field to the name entered, after saying what follows it."""
        spec, label = self.spec(), self.label.text().strip()
        if spec is None or not label or label == spec.label:
            self.message.setText("Type the new name in the Name box first.")
            return
        self._read_usage(spec, lambda use: self._ask_rename(spec, label, use))

    def _ask_rename(self, spec: FieldSpec, label: str, use: FieldUsage) -> None:
        follows = [counted(use.contacts, "contact's value", "contacts' values")]
        if use.segments:
            follows.append(("the segment " if len(use.segments) == 1 else "the segments ")
                           + names(use.segments))  # fmt: skip
        if use.templates:
            follows.append(("the template " if len(use.templates) == 1 else "the templates ")
                           + names(use.templates))  # fmt: skip
        ws, key = self.workspace_id, spec.key
        self.confirm = ask(
            self, "Rename the field?", f"Rename {spec.label} to {label}?",
            f"Moving with it: {_join(follows)}. Its merge tag becomes "
            f"{{{{ {field_key(label)} }}}} in the templates that use it.",
            "Rename",
            lambda: self.write(
                "Renaming a field", lambda c: field_admin.rename_field(c, ws, key, label),
                lambda new: f"Renamed to {new.label}: merge tag {{{{ {new.key} }}}}.",
                select=lambda new: new.key,
            ),
        )  # fmt: skip

    def retype(self) -> None:
        """Change the selected field to the type chosen, after saying how many values will not
        convert."""
        spec, ftype, ws = self.spec(), self.chosen_type(), self.workspace_id
        if spec is None or ftype is spec.type:
            self.message.setText("Choose the new type in the Type box first.")
            return
        key = spec.key
        self.message.setText("Checking the values…")
        self.runner.read(self.engine, "Checking field values",
                         lambda c: field_admin.plan_retype(c, ws, key, ftype),
                         lambda plan: self._ask_retype(spec, ftype, plan),
                         on_error=self.error)  # fmt: skip

    def _ask_retype(self, spec: FieldSpec, ftype: FieldType, plan: RetypePlan) -> None:
        new = TYPE_LABELS[ftype].lower()
        if plan.blocking_segments:
            self.message.setText(
                f"⚠ {names(plan.blocking_segments)} "
                f"{'has a rule' if len(plan.blocking_segments) == 1 else 'have rules'} on "
                f"{spec.label} that a {new} field cannot have: change "
                f"{'it' if len(plan.blocking_segments) == 1 else 'them'} first."
            )
            return
        self.message.setText("")
        details = f"{counted(plan.converted, 'value')} will be converted."
        if plan.failed:
            examples = ", ".join(f"“{example}”" for example in plan.examples)
            details += (
                f" {counted(plan.failed, 'value')} cannot be read as {new} "
                f"(such as {examples}) and will be emptied."
            )
        ws, key = self.workspace_id, spec.key
        self.confirm = ask(
            self, "Change the type?", f"Make {spec.label} a {new} field?", details,
            "Change type",
            lambda: self.write(
                "Changing a field's type", lambda c: field_admin.retype_field(c, ws, key, ftype),
                lambda emptied: f"{spec.label} is now a {new} field"
                + (f"; {counted(emptied, 'value')} emptied." if emptied else "."),
            ),
        )  # fmt: skip

    def delete(self) -> None:
        """Delete the selected field, after saying what uses it."""
        spec = self.spec()
        if spec is not None:
            self._read_usage(spec, lambda use: self._ask_delete(spec, use))

    def _ask_delete(self, spec: FieldSpec, use: FieldUsage) -> None:
        details = [f"{counted(use.contacts, 'contact has', 'contacts have')} a value, which "
                   f"will be deleted; the contacts stay."]  # fmt: skip
        if use.segments:
            details.append(f"Used by the segment{'s' if len(use.segments) > 1 else ''} "
                           f"{names(use.segments)}: a rule on a deleted field stops the "
                           "segment from counting until the rule is removed.")  # fmt: skip
        if use.templates:
            details.append(f"Used by the template{'s' if len(use.templates) > 1 else ''} "
                           f"{names(use.templates)}: its merge tag {{{{ {spec.key} }}}} "
                           "becomes an error to fix before sending.")  # fmt: skip
        ws, key = self.workspace_id, spec.key
        self.confirm = ask(
            self, "Delete the field?", f"Delete the field {spec.label}?", "\n\n".join(details),
            "Delete field",
            lambda: self.write(
                "Deleting a field", lambda c: field_admin.delete_field(c, ws, key),
                lambda gone: f"Deleted {spec.label} and {counted(gone, 'value')}.",
            ),
        )  # fmt: skip

    def _read_usage(self, spec: FieldSpec, then: Callable[[FieldUsage], None]) -> None:
        ws, key = self.workspace_id, spec.key
        self.runner.read(self.engine, "Reading where a field is used",
                         lambda c: field_admin.usage(c, ws, key), then,
                         on_error=self.error)  # fmt: skip


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

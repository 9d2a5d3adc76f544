"""The segment builder: nested groups of rules, with a live count as they change.

``SegmentCounter`` is the logic (debounce, background count, stale answers dropped); it takes
its view as a parameter so it can be driven without the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from mailfleet.desktop.db.models import ContactStatus
from mailfleet.desktop.services import contacts, segments, workspaces
from mailfleet.desktop.services.audience_refs import AudienceUse, drafts_message
from mailfleet.desktop.services.plurals import counted, plural
from mailfleet.desktop.ui.confirm import ask, names
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QObject,
    QPushButton,
    QShowEvent,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

_LABELS = {"email": "Email", "first_name": "First name", "last_name": "Last name",
           "status": "Status", "created_at": "Added", "consent_at": "Consent time",
           "list": "List", "opened": "Opened", "clicked": "Clicked"}  # fmt: skip


class CountView(Protocol):
    """What the counter needs from its view."""

    def rules(self) -> dict[str, Any]:
        """The rule set as edited."""
        ...

    def show_count(self, matching: int, mailable: int) -> None:
        """Show the two counts."""
        ...

    def show_error(self, message: str) -> None:
        """Show why the rules cannot be counted."""
        ...


class SegmentCounter:
    """Counts the view's rules in the background shortly after they stop changing."""

    def __init__(self, view: CountView, engine: Engine, workspace_id: int, runner: TaskRunner,
                 owner: QObject | None = None, delay_ms: int = 300) -> None:  # fmt: skip
        self.view = view
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        # Owned by the view's widget so the debounce dies with it: a timer of its own would
        # still fire after the widgets it reads are deleted.
        self.timer = QTimer(owner, singleShot=True, interval=delay_ms)
        self.timer.timeout.connect(self.count_now)
        self._generation = 0

    def changed(self) -> None:
        """The rules changed: count again once they settle."""
        self.timer.start()

    def count_now(self) -> None:
        """Count the current rules now."""
        self.timer.stop()
        self._generation += 1
        generation, rules = self._generation, self.view.rules()
        engine, ws = self.engine, self.workspace_id

        def count(conn: Connection) -> tuple[int, int]:
            return (segments.count(conn, ws, rules),
                    segments.count(conn, ws, rules, mailable=True))  # fmt: skip

        def show(result: tuple[int, int]) -> None:
            if generation == self._generation:
                self.view.show_count(*result)

        def fail(exc: Exception) -> None:
            if generation == self._generation:
                self.view.show_error(explain(exc))

        self.runner.read(engine, "Counting segment", count, show, on_error=fail)


class RuleRow(QWidget):
    """One rule: field, operator, value."""

    changed = Signal()

    def __init__(self, kinds: dict[str, str], lists: list[tuple[int, str]]) -> None:
        super().__init__()
        self.kinds = kinds
        self.lists = lists
        self.field = QComboBox()
        for name in kinds:
            label = _LABELS.get(name, name.removeprefix("field:").replace("_", " ").title())
            self.field.addItem(label, name)
        self.op = QComboBox()
        self.value = QLineEdit(placeholderText="value")
        self.choice = QComboBox()
        self.remove = QPushButton("✕")
        self.remove.setFixedWidth(28)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget, stretch in ((self.field, 2), (self.op, 2), (self.value, 3),
                                (self.choice, 3), (self.remove, 0)):  # fmt: skip
            row.addWidget(widget, stretch)
        self.field.currentIndexChanged.connect(self._field_changed)
        self.op.currentIndexChanged.connect(self._op_changed)
        self.value.textChanged.connect(self.changed)
        self.choice.currentIndexChanged.connect(self.changed)
        self._field_changed()

    def _field_changed(self) -> None:
        kind = self.kinds[self.field.currentData()]
        self.op.blockSignals(True)
        self.op.clear()
        for op in segments.OPERATORS[kind]:
            self.op.addItem(op.replace("_", " "), op)
        self.op.blockSignals(False)
        self.choice.blockSignals(True)
        self.choice.clear()
        if kind == "status":
            for status in ContactStatus:
                self.choice.addItem(contacts.status_text(status), status.value)
        elif kind == "list":
            for list_id, name in self.lists:
                self.choice.addItem(name, list_id)
        self.choice.blockSignals(False)
        self._op_changed()

    def _op_changed(self) -> None:
        kind = self.kinds[self.field.currentData()]
        op = self.op.currentData()
        uses_choice = kind in ("status", "list")
        needs_value = not uses_choice and not str(op).startswith("is_")
        self.choice.setVisible(uses_choice)
        self.value.setVisible(needs_value)
        if str(op).endswith("_days"):
            self.value.setPlaceholderText("number of days")
        elif kind in ("date", "datetime"):
            self.value.setPlaceholderText("YYYY-MM-DD")
        elif op == "campaign":
            self.value.setPlaceholderText("campaign id")
        else:
            self.value.setPlaceholderText("value")
        self.changed.emit()

    def set_rule(self, field: str, op: str, value: Any) -> None:
        """Show the given rule."""
        self.field.setCurrentIndex(self.field.findData(field))
        self.op.setCurrentIndex(self.op.findData(op))
        if self.choice.isVisibleTo(self):
            self.choice.setCurrentIndex(self.choice.findData(value))
        else:
            self.value.setText("" if value is None else str(value))

    def rule(self) -> dict[str, Any]:
        """The rule as data."""
        kind = self.kinds[self.field.currentData()]
        value: Any
        if kind in ("status", "list"):
            value = self.choice.currentData()
        elif str(self.op.currentData()).startswith("is_"):
            value = None
        else:
            value = self.value.text()
        return {"field": self.field.currentData(), "op": self.op.currentData(), "value": value}


class GroupBox(QFrame):
    """A group of rules and sub-groups joined by all/any."""

    changed = Signal()
    removed = Signal(QWidget)

    def __init__(self, kinds: dict[str, str], lists: list[tuple[int, str]],
                 nested: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.kinds = kinds
        self.lists = lists
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.match = QComboBox()
        self.match.addItem("Match all of", "all")
        self.match.addItem("Match any of", "any")
        self.match.currentIndexChanged.connect(self.changed)
        self.items: list[RuleRow | GroupBox] = []
        self.body = QVBoxLayout()
        add_rule = QPushButton("+ Rule")
        add_group = QPushButton("+ Group")
        add_rule.clicked.connect(lambda: self.add_rule())
        add_group.clicked.connect(lambda: self.add_group())
        head = QHBoxLayout()
        head.addWidget(self.match)
        head.addStretch(1)
        head.addWidget(add_rule)
        head.addWidget(add_group)
        if nested:
            remove = QPushButton("✕")
            remove.setFixedWidth(28)
            remove.clicked.connect(lambda: self.removed.emit(self))
            head.addWidget(remove)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(self.body)

    def add_rule(self) -> RuleRow:
        """Append a rule row."""
        row = RuleRow(self.kinds, self.lists)
        row.changed.connect(self.changed)
        row.remove.clicked.connect(lambda: self._remove(row))
        self._append(row)
        return row

    def add_group(self) -> GroupBox:
        """Append a nested group."""
        group = GroupBox(self.kinds, self.lists, nested=True)
        group.changed.connect(self.changed)
        group.removed.connect(self._remove)
        self._append(group)
        return group

    def _append(self, item: RuleRow | GroupBox) -> None:
        self.items.append(item)
        self.body.addWidget(item)
        self.changed.emit()

    def _remove(self, item: QWidget) -> None:
        self.items = [i for i in self.items if i is not item]
        item.setParent(None)
        item.deleteLater()
        self.changed.emit()

    def load(self, rules: dict[str, Any]) -> None:
        """Replace the contents with ``rules`` (a group as data)."""
        for item in list(self.items):
            self._remove(item)
        self.match.setCurrentIndex(max(self.match.findData(rules.get("match", "all")), 0))
        for item in rules.get("rules", []):
            if "rules" in item:
                self.add_group().load(item)
            else:
                self.add_rule().set_rule(item["field"], item["op"], item.get("value"))

    def rules(self) -> dict[str, Any]:
        """The group as data."""
        return {"match": self.match.currentData(),
                "rules": [i.rules() if isinstance(i, GroupBox) else i.rule()
                          for i in self.items]}  # fmt: skip


@dataclass(frozen=True)
class _Choices:
    kinds: dict[str, str]
    lists: list[tuple[int, str]]
    saved: list[tuple[int, str, dict[str, Any]]]


class SegmentBuilder(QWidget):
    """The Segments page: build rules, see the count live, save the segment."""

    saved = Signal()

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        # Filled in by refresh(); the rules cannot be edited until the fields are known.
        self.root = GroupBox({}, [])
        self.root.setEnabled(False)
        self._latest = Latest()
        self.picker = QComboBox()
        self.picker.activated.connect(self._open)
        self.count_label = QLabel("Loading…")
        self.count_label.setObjectName("segmentCount")
        self.save_button = QPushButton("Save segment…")
        self.save_button.clicked.connect(self._save)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self.ask_rename)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.ask_delete)
        self.segment_ids: list[int | None] = [None]  # per picker entry: the saved segment's id
        self.asking: QInputDialog | QMessageBox | None = None  # the question open now, if any
        self.picker.currentIndexChanged.connect(lambda _i: self._picked())
        self.counter = SegmentCounter(self, engine, workspace_id, runner, owner=self)
        self.root.changed.connect(self.counter.changed)
        head = QHBoxLayout()
        head.addWidget(QLabel("Segment:"))
        head.addWidget(self.picker, 1)
        head.addWidget(self.rename_button)
        head.addWidget(self.delete_button)
        foot = QHBoxLayout()
        foot.addWidget(self.count_label, 1)
        foot.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.root)
        layout.addStretch(1)
        layout.addLayout(foot)
        self.saved.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the fields, lists and saved segments in the background (an import may have
        added some)."""
        ws = self.workspace_id

        def read(conn: Connection) -> _Choices:
            return _Choices(
                segments.field_kinds(conn, ws), workspaces.lists(conn, ws), segments.saved(conn, ws)
            )

        self.runner.read(self.engine, "Reading fields and segments", read,
                         self._latest.only(self._loaded))  # fmt: skip

    def showEvent(self, event: QShowEvent) -> None:
        """Re-read when shown: fields, lists and segments may have changed elsewhere."""
        super().showEvent(event)
        self.refresh()

    def _loaded(self, choices: _Choices) -> None:
        self.root.kinds.update(choices.kinds)
        self.root.lists[:] = choices.lists
        shown = self.current_id()
        self.picker.blockSignals(True)
        self.picker.clear()
        self.picker.addItem("New segment", None)
        self.segment_ids = [None]
        for seg_id, name, rules in choices.saved:
            self.picker.addItem(name, rules)
            self.segment_ids.append(seg_id)
        self.picker.setCurrentIndex(max(self.segment_ids.index(shown), 0)
                                    if shown in self.segment_ids else 0)  # fmt: skip
        self.picker.blockSignals(False)
        self._picked()
        if not self.root.isEnabled():  # the first read: the rules can be edited and counted
            self.root.setEnabled(True)
            self.counter.count_now()

    def _open(self, index: int) -> None:
        rules = self.picker.itemData(index)
        self.root.load(rules if rules is not None else segments.empty_rules())

    def current_id(self) -> int | None:
        """The id of the saved segment the picker shows (None: a new one)."""
        index = self.picker.currentIndex()
        return self.segment_ids[index] if 0 <= index < len(self.segment_ids) else None

    def _picked(self) -> None:
        saved = self.current_id() is not None
        self.rename_button.setEnabled(saved)
        self.delete_button.setEnabled(saved)

    def ask_rename(self) -> None:
        """Ask for the shown segment's new name."""
        seg_id, old = self.current_id(), self.picker.currentText()
        if seg_id is None:
            return
        box = QInputDialog(self)
        box.setWindowTitle("Rename segment")
        box.setLabelText(f"New name for {old}:")
        box.setTextValue(old)
        box.textValueSelected.connect(lambda name: self.rename_to(seg_id, name))
        self.asking = box
        box.open()

    def rename_to(self, segment_id: int, name: str) -> None:
        """Rename a saved segment (on the write worker)."""
        engine, ws = self.engine, self.workspace_id
        self.runner.write(engine, "Renaming a segment",
                          lambda c: segments.rename(c, ws, segment_id, name),
                          lambda _: self._changed(f"Renamed to {name.strip()}."),
                          on_error=lambda exc: self.show_error(
                              f"not renamed: {explain(exc)}"))  # fmt: skip

    def ask_delete(self) -> None:
        """Delete the shown segment after asking; a draft campaign that needs it keeps it."""
        seg_id, name = self.current_id(), self.picker.currentText()
        if seg_id is None:
            return
        ws = self.workspace_id
        self.runner.read(self.engine, "Reading where a segment is used",
                         lambda c: segments.campaigns_using(c, ws, seg_id),
                         lambda use: self._ask_delete(seg_id, name, use))  # fmt: skip

    def _ask_delete(self, segment_id: int, name: str, use: AudienceUse) -> None:
        if use.drafts:
            self.show_error(drafts_message(use, name) + ".")
            return
        details = "No contact is deleted: a segment is only a saved search."
        if use.others:
            details += (f" {counted(len(use.others), 'sent campaign')} chose it "
                        f"({names(use.others)}); their recipients were fixed when they were "
                        "sent, so nothing changes for them.")  # fmt: skip
        engine, ws = self.engine, self.workspace_id

        def delete() -> None:
            self.runner.write(engine, "Deleting a segment",
                              lambda c: segments.remove(c, ws, segment_id),
                              lambda _: self._changed(f"Deleted the segment {name}."),
                              on_error=lambda e: self.show_error(
                              f"not deleted: {explain(e)}"))  # fmt: skip

        self.asking = ask(self, "Delete the segment?", f"Delete the segment {name}?", details,
                          "Delete segment", delete)  # fmt: skip

    def _changed(self, message: str) -> None:
        self.count_label.setText(message)
        self.saved.emit()

    def rules(self) -> dict[str, Any]:
        """The rules as edited."""
        return self.root.rules()

    def show_count(self, matching: int, mailable: int) -> None:
        """Show the live counts."""
        self.count_label.setText(
            f"{counted(matching, 'contact')} {plural(matching, 'matches', 'match')} · "
            f"{mailable:,} can be mailed"
        )

    def show_error(self, message: str) -> None:
        """Show why the rules do not count."""
        self.count_label.setText(f"⚠ {message}")

    def save_as(self, name: str) -> None:
        """Save the rules under ``name`` (on the write worker); ``saved`` fires when done."""
        engine, ws, rules = self.engine, self.workspace_id, self.rules()

        self.runner.write(engine, "Saving segment", lambda c: segments.save(c, ws, name, rules),
                          lambda _: self.saved.emit(),
                          on_error=lambda exc: self.show_error(
                              f"not saved: {explain(exc)}"))  # fmt: skip

    def _save(self) -> None:
        name, ok = QInputDialog.getText(self, "Save segment", "Name:")
        if ok and name.strip():
            self.save_as(name.strip())

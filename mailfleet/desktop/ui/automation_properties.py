"""The automation designer's properties panel: the settings of the trigger or of the selected
step, in the marketer's words. Every edit is written into the design at once and announced
with ``changed``; the panel holds no database or agent code."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailfleet.desktop.services.automation_design import (
    WAIT_UNITS,
    WEEKDAY_NAMES,
    StepDesign,
    TriggerDesign,
    step_text,
)
from mailfleet.desktop.ui.qt import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)

TRIGGERS = {"signup": "Someone confirms a signup", "event": "An app sends an event",
            "date": "A date in a contact's field (birthday, renewal…)"}  # fmt: skip
CONDITIONS = {"opened": "Opened the mail of", "clicked": "Clicked a link in the mail of",
              "field": "A field has a value"}  # fmt: skip


@dataclass(frozen=True)
class Choices:
    """What the panel offers: the workspace's templates, lists and fields, as (id, name)."""

    templates: list[tuple[int, str]] = field(default_factory=list)
    lists: list[tuple[int, str]] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)  # (key, label)
    date_fields: list[tuple[str, str]] = field(default_factory=list)


def _fill(combo: QComboBox, items: list[tuple[object, str]], current: object) -> None:
    combo.clear()
    for data, text in items:
        combo.addItem(text, data)
    index = combo.findData(current)
    combo.setCurrentIndex(index if index >= 0 else (0 if items else -1))


def _form(page: QWidget) -> QFormLayout:
    outer = QVBoxLayout(page)
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    outer.addLayout(form)
    outer.addStretch(1)  # the settings at the top, not spread over the panel
    return form


class PropertiesPanel(QStackedWidget):
    """One page per kind of thing shown: the trigger, or a send, wait, branch, tag, exit step."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.choices = Choices()
        self.trigger: TriggerDesign | None = None
        self.steps: list[StepDesign] = []
        self.index = -1
        self._loading = False
        self.pages: dict[str, QWidget] = {}
        self._trigger_page()
        self._send_page()
        self._wait_page()
        self._branch_page()
        self._tag_page()
        exit_page = QLabel("Contacts leave the automation here: no more steps for them.")
        exit_page.setWordWrap(True)
        exit_page.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._add("exit", exit_page)

    def _add(self, kind: str, page: QWidget) -> None:
        self.pages[kind] = page
        self.addWidget(page)

    # The pages -------------------------------------------------------------------------------

    def _trigger_page(self) -> None:
        page = QWidget()
        form = _form(page)
        self.trigger_kind = QComboBox()
        for kind, text in TRIGGERS.items():
            self.trigger_kind.addItem(text, kind)
        self.trigger_lists = QListWidget()
        self.trigger_lists.setMaximumHeight(100)
        self.event_name = QLineEdit()
        self.event_name.setPlaceholderText("order_placed")
        self.date_field = QComboBox()
        self.offset = QSpinBox()
        self.offset.setRange(-366, 366)
        self.offset.setSuffix(" days")
        self.trigger_hint = QLabel("")
        self.trigger_hint.setWordWrap(True)
        self.trigger_form = form
        form.addRow("Starts when", self.trigger_kind)
        form.addRow("To the lists", self.trigger_lists)
        form.addRow("Event name", self.event_name)
        form.addRow("Date field", self.date_field)
        form.addRow("Days after it", self.offset)
        form.addRow(self.trigger_hint)
        self.trigger_kind.currentIndexChanged.connect(self._trigger_edited)
        self.trigger_lists.itemChanged.connect(self._trigger_edited)
        self.event_name.textEdited.connect(self._trigger_edited)
        self.date_field.currentIndexChanged.connect(self._trigger_edited)
        self.offset.valueChanged.connect(self._trigger_edited)
        self._add("trigger", page)

    def _send_page(self) -> None:
        page = QWidget()
        form = _form(page)
        self.template = QComboBox()
        self.from_address = QLineEdit()
        self.from_address.setPlaceholderText("news@shop.example.com")
        self.from_name = QLineEdit()
        hint = QLabel(
            "The template's subject and content are copied into the automation when you save: "
            "edit the template, then save the automation again to send the new text."
        )
        hint.setWordWrap(True)
        form.addRow("Template", self.template)
        form.addRow("From address", self.from_address)
        form.addRow("From name", self.from_name)
        form.addRow(hint)
        self.template.currentIndexChanged.connect(self._step_edited)
        self.from_address.textEdited.connect(self._step_edited)
        self.from_name.textEdited.connect(self._step_edited)
        self._add("send", page)

    def _wait_page(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.wait_for = QRadioButton("Wait for")
        self.wait_until = QRadioButton("Wait until the next")
        self.amount = QSpinBox()
        self.amount.setRange(1, 3650)
        self.unit = QComboBox()
        for unit in WAIT_UNITS:
            self.unit.addItem(unit, unit)
        duration = QHBoxLayout()
        duration.addWidget(self.wait_for)
        duration.addWidget(self.amount)
        duration.addWidget(self.unit, 1)
        layout.addLayout(duration)
        layout.addWidget(self.wait_until)
        days = QGridLayout()
        self.weekdays: dict[str, QCheckBox] = {}
        for i, (code, name) in enumerate(WEEKDAY_NAMES.items()):
            box = QCheckBox(name)
            self.weekdays[code] = box
            days.addWidget(box, i // 4, i % 4)
            box.toggled.connect(self._step_edited)
        layout.addLayout(days)
        at = QHBoxLayout()
        at.addWidget(QLabel("at"))
        self.time = QLineEdit()
        self.time.setInputMask("99:99")
        at.addWidget(self.time)
        at.addWidget(QLabel("(UTC)"), 1)
        layout.addLayout(at)
        layout.addStretch(1)
        for signal in (self.wait_for.toggled, self.amount.valueChanged,
                       self.unit.currentIndexChanged, self.time.textEdited):  # fmt: skip
            signal.connect(self._step_edited)
        self._add("wait", page)

    def _branch_page(self) -> None:
        page = QWidget()
        form = _form(page)
        self.condition = QComboBox()
        for kind, text in CONDITIONS.items():
            self.condition.addItem(text, kind)
        self.ref_step = QComboBox()
        self.branch_field = QComboBox()
        self.equals = QLineEdit()
        self.then = QComboBox()
        self.otherwise = QComboBox()
        self.branch_form = form
        form.addRow("If", self.condition)
        form.addRow("Step", self.ref_step)
        form.addRow("Field", self.branch_field)
        form.addRow("Equals", self.equals)
        form.addRow("Then go to", self.then)
        form.addRow("Otherwise go to", self.otherwise)
        for signal in (self.condition.currentIndexChanged, self.ref_step.currentIndexChanged,
                       self.branch_field.currentIndexChanged, self.equals.textEdited,
                       self.then.currentIndexChanged,
                       self.otherwise.currentIndexChanged):  # fmt: skip
            signal.connect(self._step_edited)
        self._add("branch", page)

    def _tag_page(self) -> None:
        page = QWidget()
        form = _form(page)
        self.action = QComboBox()
        self.action.addItem("Add", "add")
        self.action.addItem("Remove", "remove")
        self.tag_kind = QComboBox()
        self.tag_kind.addItem("a tag", "tag")
        self.tag_kind.addItem("a list", "list")
        self.tag = QLineEdit()
        self.tag.setPlaceholderText("vip")
        self.tag_list = QComboBox()
        self.tag_form = form
        form.addRow("Action", self.action)
        form.addRow("What", self.tag_kind)
        form.addRow("Tag", self.tag)
        form.addRow("List", self.tag_list)
        for signal in (self.action.currentIndexChanged, self.tag_kind.currentIndexChanged,
                       self.tag.textEdited, self.tag_list.currentIndexChanged):  # fmt: skip
            signal.connect(self._step_edited)
        self._add("tag", page)

    # Showing ---------------------------------------------------------------------------------

    def show_trigger(self, trigger: TriggerDesign) -> None:
        """Edit the trigger."""
        self._loading = True
        self.trigger, self.index = trigger, -1
        self.trigger_kind.setCurrentIndex(self.trigger_kind.findData(trigger.kind))
        self.trigger_lists.clear()
        for list_id, name in self.choices.lists:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = list_id in trigger.list_ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, list_id)
            self.trigger_lists.addItem(item)
        self.event_name.setText(trigger.event)
        _fill(self.date_field, list(self.choices.date_fields), trigger.field)
        self.offset.setValue(trigger.offset_days)
        self._loading = False
        self._trigger_shown()
        self.setCurrentWidget(self.pages["trigger"])

    def _trigger_shown(self) -> None:
        kind = self.trigger_kind.currentData()
        form = self.trigger_form
        form.setRowVisible(self.trigger_lists, kind == "signup")
        form.setRowVisible(self.event_name, kind == "event")
        form.setRowVisible(self.date_field, kind == "date")
        form.setRowVisible(self.offset, kind == "date")
        self.trigger_hint.setText({
            "signup": "No list ticked: a confirmed signup to any list. Leaving a ticked list "
                      "stops the automation's mail to that contact.",
            "event": "Your shop or app sends this event over the agent's API, with the "
                     "contact's address and fields (see examples/order_placed.py).",
            "date": "Once a year per contact; a negative number of days is before the date. "
                    "Contacts need the date on the agent (the app records it there).",
        }[kind])  # fmt: skip

    def show_step(self, steps: list[StepDesign], index: int) -> None:
        """Edit step ``index`` of ``steps``."""
        self._loading = True
        self.steps, self.index, self.trigger = steps, index, None
        step = steps[index]
        if step.kind == "send":
            _fill(self.template, list(self.choices.templates), step.template_id)
            self.from_address.setText(step.from_address)
            self.from_name.setText(step.from_name)
        elif step.kind == "wait":
            (self.wait_until if step.wait_until else self.wait_for).setChecked(True)
            self.amount.setValue(step.wait_amount)
            self.unit.setCurrentIndex(self.unit.findData(step.wait_unit))
            for code, box in self.weekdays.items():
                box.setChecked(code in step.weekdays)
            self.time.setText(step.time)
        elif step.kind == "branch":
            self._show_branch(steps, index)
        elif step.kind == "tag":
            self.action.setCurrentIndex(self.action.findData(step.action))
            is_list = step.tag.startswith("list:")
            self.tag_kind.setCurrentIndex(1 if is_list else 0)
            self.tag.setText("" if is_list else step.tag)
            list_id = int(step.tag.removeprefix("list:")) if is_list else None
            _fill(self.tag_list, list(self.choices.lists), list_id)
        self._enable(step)
        self._loading = False
        self.setCurrentWidget(self.pages[step.kind])

    def _show_branch(self, steps: list[StepDesign], index: int) -> None:
        step = steps[index]
        names = {t: n for t, n in self.choices.templates}
        self.condition.setCurrentIndex(self.condition.findData(step.condition))
        sends = [(i, f"{i + 1}. {step_text(steps, i, names)}")
                 for i in range(index) if steps[i].kind == "send"]  # fmt: skip
        _fill(self.ref_step, list(sends), step.ref_step)
        _fill(self.branch_field, list(self.choices.fields), step.field)
        self.equals.setText(step.equals)
        later: list[tuple[object, str]] = [
            (i, f"{i + 1}. {step_text(steps, i, names)}") for i in range(index + 1, len(steps))
        ]
        later.append((len(steps), "The end"))
        _fill(self.then, later, step.then)
        _fill(self.otherwise, [(None, "The next step"), *later[1:]], step.otherwise)

    # Editing ---------------------------------------------------------------------------------

    def _trigger_edited(self) -> None:
        if self._loading or self.trigger is None:
            return
        t = self.trigger
        t.kind = str(self.trigger_kind.currentData())
        t.list_ids = [
            int(self.trigger_lists.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.trigger_lists.count())
            if self.trigger_lists.item(i).checkState() == Qt.CheckState.Checked
        ]
        t.event = self.event_name.text().strip()
        t.field = str(self.date_field.currentData() or "")
        t.offset_days = self.offset.value()
        self._trigger_shown()
        self.changed.emit()

    def _step_edited(self) -> None:
        if self._loading or not 0 <= self.index < len(self.steps):
            return
        step = self.steps[self.index]
        if step.kind == "send":
            data = self.template.currentData()
            step.template_id = int(data) if data is not None else None
            step.from_address = self.from_address.text().strip()
            step.from_name = self.from_name.text().strip()
        elif step.kind == "wait":
            step.wait_until = self.wait_until.isChecked()
            step.wait_amount = self.amount.value()
            step.wait_unit = str(self.unit.currentData())
            step.weekdays = [c for c, box in self.weekdays.items() if box.isChecked()]
            step.time = self.time.text()
        elif step.kind == "branch":
            step.condition = str(self.condition.currentData())
            ref = self.ref_step.currentData()
            step.ref_step = int(ref) if ref is not None else -1
            step.field = str(self.branch_field.currentData() or "")
            step.equals = self.equals.text()
            step.then = int(self.then.currentData())
            otherwise = self.otherwise.currentData()
            step.otherwise = int(otherwise) if otherwise is not None else None
        elif step.kind == "tag":
            step.action = str(self.action.currentData())
            if self.tag_kind.currentData() == "list":
                list_id = self.tag_list.currentData()
                step.tag = f"list:{list_id}" if list_id is not None else ""
            else:
                step.tag = self.tag.text().strip()
        self._enable(step)
        self.changed.emit()

    def _enable(self, step: StepDesign) -> None:
        # Only the settings the current choice uses can be edited.
        by_field = step.condition == "field"
        self.branch_form.setRowVisible(self.ref_step, not by_field)
        self.branch_form.setRowVisible(self.branch_field, by_field)
        self.branch_form.setRowVisible(self.equals, by_field)
        is_list = self.tag_kind.currentData() == "list"
        self.tag_form.setRowVisible(self.tag, not is_list)
        self.tag_form.setRowVisible(self.tag_list, is_list)
        self.amount.setEnabled(not step.wait_until)
        self.unit.setEnabled(not step.wait_until)
        for box in self.weekdays.values():
            box.setEnabled(step.wait_until)
        self.time.setEnabled(step.wait_until)

"""The signup form editor: every setting of one form, read from and written to a
``FormDesign``. It holds no database or agent code: the page reads and saves for it."""

from __future__ import annotations

from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services.languages import LANGUAGES
from mailfleet.desktop.services.signup_forms import (
    CONFIRM_TAG,
    FormDesign,
    FormFieldDesign,
)
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

DEFAULT_SUBJECT = "Please confirm your subscription"
DEFAULT_BODY = (
    "Hello,\n\nplease confirm that you want to receive our newsletter:\n\n"
    f"{CONFIRM_TAG}\n\nIf you did not sign up, ignore this message and nothing happens."
)
_TYPE_NAMES = {"text": "Text", "number": "Number", "date": "Date", "checkbox": "Tick box"}
ON, REQUIRED = 1, 2  # the fields table's tick columns


def _checkable(text: str, checked: bool, data: object) -> QListWidgetItem:
    item = QListWidgetItem(text)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    item.setData(Qt.ItemDataRole.UserRole, data)
    return item


def _checked(view: QListWidget) -> list[int]:
    return [
        int(view.item(i).data(Qt.ItemDataRole.UserRole))
        for i in range(view.count())
        if view.item(i).checkState() == Qt.CheckState.Checked
    ]


def _tick(checked: bool) -> QTableWidgetItem:
    item = QTableWidgetItem("")
    item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    return item


def _ticked(table: QTableWidget, row: int, column: int) -> bool:
    item = table.item(row, column)
    return item is not None and item.checkState() == Qt.CheckState.Checked


def _set_ticked(table: QTableWidget, row: int, column: int, on: bool) -> None:
    item = table.item(row, column)
    if item is not None:
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


class SignupFormEditor(QWidget):
    """The form's settings, grouped as the marketer thinks of them."""

    def __init__(self) -> None:
        super().__init__()
        self.choices: list[FormFieldDesign] = []
        self.consent_version = ""
        self.name = QLineEdit()
        self.name.setAccessibleName("Form name")
        self.lists = QListWidget()
        self.lists.setMaximumHeight(90)
        # the tick boxes clear of the frame, as in the other boxes of the editor
        self.lists.setSpacing(2)
        self.fields = QTableWidget(0, 3)
        self.fields.setHorizontalHeaderLabels(["Field", "Shown", "Required"])
        header = self.fields.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (ON, REQUIRED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.fields.verticalHeader().hide()
        self.fields.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields.setMinimumHeight(140)
        self.fields.setWordWrap(False)
        self.consent = QPlainTextEdit()
        self.consent.setAccessibleName("Consent text")
        self.consent.setPlaceholderText("I agree to get the newsletter and can leave at any time.")
        self.consent.setMaximumHeight(60)
        self.version = QLabel("")
        self.success = QLineEdit()
        self.success.setPlaceholderText("Default: thanks, and check your inbox to confirm")
        self.error = QLineEdit()
        self.error.setPlaceholderText("Default: please correct the fields marked below")
        self.logo = QLineEdit()
        self.logo.setPlaceholderText("https://example.com/logo.png")
        self.accent = QLineEdit()
        self.accent.setAccessibleName("Accent colour")
        self.accent.setPlaceholderText("#1a73e8")
        self.background = QLineEdit()
        self.background.setAccessibleName("Background colour")
        self.background.setPlaceholderText("#ffffff")
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.double_opt_in = QCheckBox("Double opt-in: joins once confirmed by mail")
        self.subject = QLineEdit()
        self.body = QPlainTextEdit()
        self.body.setMaximumHeight(110)
        self.double_opt_in.toggled.connect(self.subject.setEnabled)
        self.double_opt_in.toggled.connect(self.body.setEnabled)
        self.from_address = QLineEdit()
        self.from_address.setPlaceholderText("news@shop.example.com")
        self.from_name = QLineEdit()
        self.agents = QListWidget()
        self.agents.setMaximumHeight(70)
        self.agents.setSpacing(2)
        self.closed = QCheckBox("Closed: the page says so and takes no signups")
        colours = QHBoxLayout()
        colours.addWidget(QLabel("Accent"))
        colours.addWidget(self.accent)
        colours.addWidget(QLabel("Background"))
        colours.addWidget(self.background)
        consent = QVBoxLayout()
        consent.addWidget(self.consent)
        consent.addWidget(self.version)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Adds people to", self.lists)
        form.addRow("Fields", self.fields)
        form.addRow("Consent text", consent)
        form.addRow("Success message", self.success)
        form.addRow("Error message", self.error)
        form.addRow("Logo URL", self.logo)
        form.addRow("Colours", colours)
        form.addRow("Language", self.language)
        form.addRow("", self.double_opt_in)
        form.addRow("Confirmation subject", self.subject)
        form.addRow("Confirmation mail", self.body)
        form.addRow("From address", self.from_address)
        form.addRow("From name", self.from_name)
        form.addRow("Published by", self.agents)
        form.addRow("", self.closed)

    def set_choices(
        self, lists: list[tuple[int, str]], fields: list[FormFieldDesign], agents: list[AgentRecord]
    ) -> None:
        """What the form can use: the workspace's lists, contact fields and agents."""
        self.lists.clear()
        for list_id, name in lists:
            self.lists.addItem(_checkable(name, False, list_id))
        self.agents.clear()
        for record in agents:
            self.agents.addItem(_checkable(record.name, True, record.id))
        self.choices = fields
        self.fields.setRowCount(len(fields) + 1)
        email = QTableWidgetItem("Email (always)")
        self.fields.setItem(0, 0, email)
        for column in (ON, REQUIRED):
            fixed = _tick(True)
            fixed.setFlags(Qt.ItemFlag.NoItemFlags)
            self.fields.setItem(0, column, fixed)
        for row, choice in enumerate(fields, start=1):
            self.fields.setItem(
                row, 0, QTableWidgetItem(f"{choice.label} · {_TYPE_NAMES[choice.type]}")
            )
            self.fields.setItem(row, ON, _tick(False))
            self.fields.setItem(row, REQUIRED, _tick(False))

    def show_design(self, design: FormDesign | None) -> None:
        """Fill the editor with ``design``, or the defaults of a new form."""
        d = design or FormDesign(name="", list_ids=[], from_address="")
        self.name.setText(d.name)
        for view, ids in ((self.lists, d.list_ids), (self.agents, d.agent_ids)):
            for i in range(view.count()):
                item = view.item(i)
                on = int(item.data(Qt.ItemDataRole.UserRole)) in ids or (
                    design is None and view is self.agents
                )
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        chosen = {f.key: f for f in d.fields}
        for row, choice in enumerate(self.choices, start=1):
            field = chosen.get(choice.key)
            _set_ticked(self.fields, row, ON, field is not None)
            _set_ticked(self.fields, row, REQUIRED, field is not None and field.required)
        self.consent.setPlainText(d.consent_text)
        self.consent_version = d.consent_version
        self.version.setText(
            f"Version {d.consent_version} (a new version when the text changes)"
            if d.consent_version
            else "Version 1 once saved (a new version when the text changes)"
        )
        self.success.setText(d.success_message)
        self.error.setText(d.error_message)
        self.logo.setText(d.logo_url)
        self.accent.setText(d.accent_color)
        self.background.setText(d.background_color)
        self.language.setCurrentIndex(max(self.language.findData(d.language), 0))
        self.double_opt_in.setChecked(d.double_opt_in)
        self.subject.setText(d.confirm_subject if design else DEFAULT_SUBJECT)
        self.body.setPlainText(d.confirm_body if design else DEFAULT_BODY)
        self.from_address.setText(d.from_address)
        self.from_name.setText(d.from_name)
        self.closed.setChecked(d.closed)

    def design(self) -> FormDesign:
        """The editor's values (the consent version is set when saving)."""
        fields = [
            FormFieldDesign(
                choice.key,
                choice.label,
                choice.type,
                _ticked(self.fields, row, REQUIRED),
            )
            for row, choice in enumerate(self.choices, start=1)
            if _ticked(self.fields, row, ON)
        ]
        return FormDesign(
            name=self.name.text(),
            list_ids=_checked(self.lists),
            from_address=self.from_address.text().strip(),
            fields=fields,
            from_name=self.from_name.text().strip(),
            consent_text=self.consent.toPlainText().strip(),
            consent_version=self.consent_version,
            success_message=self.success.text().strip(),
            error_message=self.error.text().strip(),
            logo_url=self.logo.text().strip(),
            accent_color=self.accent.text().strip(),
            background_color=self.background.text().strip(),
            language=str(self.language.currentData()),
            double_opt_in=self.double_opt_in.isChecked(),
            confirm_subject=self.subject.text().strip(),
            confirm_body=self.body.toPlainText().strip(),
            agent_ids=_checked(self.agents),
            closed=self.closed.isChecked(),
        )

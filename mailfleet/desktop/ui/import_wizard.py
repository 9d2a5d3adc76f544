"""The import wizard: choose a file, map its columns, choose list and mode, run, read the report.

The import itself is ``mailfleet.desktop.services.importer.run_import``, run on the database write
worker; the wizard only collects the plan and shows progress and the report.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from mailfleet.desktop.agents import confirm_send
from mailfleet.desktop.agents.confirm_send import SentConfirmations
from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import export, signup_forms, workspaces
from mailfleet.desktop.services.csvformat import CsvFormat, preview, sniff
from mailfleet.desktop.services.fields import FieldSpec, field_key, list_fields
from mailfleet.desktop.services.import_check import FileCheck, check_file
from mailfleet.desktop.services.import_report import ImportPlan, ImportReport, NewField
from mailfleet.desktop.services.importer import run_import
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
    Signal,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner

_GUESSES = (("email", ("mail",)), ("first_name", ("first", "given", "vorname", "prénom")),
            ("last_name", ("last", "surname", "family", "nachname")))  # fmt: skip
_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1")
_NEW = {"new:text": FieldType.TEXT, "new:number": FieldType.NUMBER,
        "new:date": FieldType.DATE, "new:boolean": FieldType.BOOLEAN}  # fmt: skip


class FilePage(QWizardPage):
    """Pick the file; its encoding, delimiter and header are detected on Next."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Choose a CSV or TSV file")
        self.owner = wizard
        self.path = QLineEdit()
        self.path.textChanged.connect(self.completeChanged)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.addWidget(self.path, 1)
        row.addWidget(browse)

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Import contacts", "", "CSV/TSV (*.csv *.tsv *.txt);;All files (*)"
        )
        if name:
            self.path.setText(name)

    def isComplete(self) -> bool:
        """Next is enabled once an existing file is named (and the fields are read)."""
        return self.owner.ready and Path(self.path.text()).is_file()

    def validatePage(self) -> bool:
        """Detect the file's format before moving on."""
        self.owner.path = Path(self.path.text())
        self.owner.format = sniff(self.owner.path)
        return True


class MappingPage(QWizardPage):
    """Preview the first rows and choose where each column goes."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Map the columns")
        self.owner = wizard
        self.detected = QLabel()
        self.detected_text = ""
        self.encoding = QComboBox()
        self.delimiter = QComboBox()
        for name, char in _DELIMITERS.items():
            self.delimiter.addItem(name, char)
        self.has_header = QCheckBox("First row is a header")
        self.encoding.activated.connect(self._format_changed)
        self.delimiter.activated.connect(self._format_changed)
        self.has_header.toggled.connect(self._format_changed)
        self.table = QTableWidget()
        self.combos: list[QComboBox] = []
        row = QHBoxLayout()
        row.addWidget(QLabel("Encoding"))
        row.addWidget(self.encoding)
        row.addWidget(QLabel("Delimiter"))
        row.addWidget(self.delimiter)
        row.addWidget(self.has_header)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.detected)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)

    def initializePage(self) -> None:
        """Show the detected format (which can be overridden) and the preview."""
        fmt = self.owner.format
        names = {char: name for name, char in _DELIMITERS.items()}
        self.detected_text = (f"Detected: {fmt.encoding}, {names.get(fmt.delimiter, '?')}, "
                              f"{'with' if fmt.has_header else 'no'} header")  # fmt: skip
        for widget in (self.encoding, self.delimiter, self.has_header):
            widget.blockSignals(True)
        self.encoding.clear()
        self.encoding.addItems(list(dict.fromkeys([fmt.encoding, *_ENCODINGS])))
        self.delimiter.setCurrentIndex(max(self.delimiter.findData(fmt.delimiter), 0))
        self.has_header.setChecked(fmt.has_header)
        for widget in (self.encoding, self.delimiter, self.has_header):
            widget.blockSignals(False)
        self._fill()

    def _format_changed(self) -> None:
        self.owner.format = CsvFormat(
            self.encoding.currentText(), self.delimiter.currentData(), self.has_header.isChecked()
        )
        self._fill()

    def _fill(self) -> None:
        self.combos = []
        try:
            header, rows = preview(self.owner.path, self.owner.format)
        except UnicodeDecodeError:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.detected.setText(f"The file is not {self.owner.format.encoding}; "
                                  "choose another encoding.")  # fmt: skip
            self.completeChanged.emit()
            return
        self.detected.setText(self.detected_text)
        self.owner.header = header
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows) + 1)
        self.table.setHorizontalHeaderLabels(header)
        self.table.setVerticalHeaderLabels(["Import as"] + [""] * len(rows))
        for column, name in enumerate(header):
            combo = self._choices()
            combo.setCurrentIndex(max(combo.findData(self._guess(name)), 0))
            combo.currentIndexChanged.connect(self.completeChanged)
            self.table.setCellWidget(0, column, combo)
            self.combos.append(combo)
            for row, cells in enumerate(rows, start=1):
                text = cells[column] if column < len(cells) else ""
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.completeChanged.emit()

    def _choices(self) -> QComboBox:
        combo = QComboBox()
        combo.addItem("Ignore", "")
        for target, label in (("email", "Email"), ("first_name", "First name"),
                              ("last_name", "Last name")):  # fmt: skip
            combo.addItem(label, target)
        for spec in self.owner.fields:
            combo.addItem(f"Field: {spec.label}", f"field:{spec.key}")
        for data, ftype in _NEW.items():
            combo.addItem(f"New {ftype.value} field", data)
        return combo

    def _guess(self, name: str) -> str:
        lowered = name.lower()
        for target, words in _GUESSES:
            if any(word in lowered for word in words):
                return target
        for spec in self.owner.fields:
            if field_key(name) == spec.key:
                return f"field:{spec.key}"
        return "new:text" if self.owner.format.has_header else ""

    def targets(self) -> list[str]:
        """The chosen target of each column."""
        return [str(combo.currentData()) for combo in self.combos]

    def isComplete(self) -> bool:
        """Exactly one column must be the address."""
        return self.targets().count("email") == 1


def sent_text(sent: SentConfirmations) -> str:
    """What sending the confirmation mails did, for the marketer."""
    lines = [f"Confirmation mails sent to {counted(sent.sent, 'contact')}."]
    if sent.unreachable:
        lines.append(f"The others wait for {', '.join(sent.unreachable)}: they are sent "
                     "when it can be reached again.")  # fmt: skip
    if sent.refused:
        first, reason = next(iter(sent.refused.items()))
        lines.append(f"{counted(len(sent.refused), 'contact')} could not be asked to confirm "
                     f"(for example {first}: {reason}).")  # fmt: skip
    return "\n".join(lines)


class OptionsPage(QWizardPage):
    """Target list, what to do with contacts that exist already and whether new ones have to
    confirm through a signup form first, under the check of the file's values (run in the
    background as the page opens)."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Options")
        self.owner = wizard
        self.check = QLabel("")
        self.check.setWordWrap(True)
        self.file_check: FileCheck | None = None
        self.check_task: Task[FileCheck] | None = None
        self.target_list = QComboBox()
        self.new_list = QLineEdit(placeholderText="Name of the new list")
        self.skip = QRadioButton("Skip contacts that exist already (leave them untouched)")
        self.update_existing = QRadioButton("Update contacts that exist already (mapped columns)")
        self.skip.setChecked(True)
        self.confirm_form = QComboBox()
        self.target_list.currentIndexChanged.connect(self._list_changed)
        self.new_list.textChanged.connect(self.completeChanged)
        form = QFormLayout(self)
        form.addRow("Add to list", self.target_list)
        form.addRow("", self.new_list)
        form.addRow("Existing contacts", self.skip)
        form.addRow("", self.update_existing)
        form.addRow("New contacts", self.confirm_form)
        form.addRow("The file", self.check)

    def initializePage(self) -> None:
        """Offer the workspace's lists and check the file's values."""
        self.target_list.clear()
        self.target_list.addItem("No list", None)
        for list_id, name in self.owner.lists:
            self.target_list.addItem(name, list_id)
        self.target_list.addItem("New list…", -1)
        self.confirm_form.clear()
        self.confirm_form.addItem("Subscribed at once (they gave their consent already)", None)
        for form_pk, name in self.owner.forms:
            self.confirm_form.addItem(f"Pending until they confirm the mail of the form “{name}”",
                                      form_pk)  # fmt: skip
        self._list_changed()
        self._start_check()

    def cleanupPage(self) -> None:
        """Back to the mapping: the check of the old mapping is no longer wanted."""
        self._stop_check()
        super().cleanupPage()

    def validatePage(self) -> bool:
        """On to the import, which reports on every row itself."""
        self._stop_check()
        return True

    def _start_check(self) -> None:
        self._stop_check()
        self.file_check = None
        self.check.setText("Checking the values in the file…")
        plan = self.owner.plan()
        known = {spec.key: spec.type for spec in self.owner.fields}
        task = self.owner.runner.run(
            "Checking the import file", lambda t: check_file(plan, known, t.cancel_event),
            lambda check: self._checked(task, check),
            on_error=lambda _exc: self._check_failed(task),
        )  # fmt: skip
        self.check_task = task

    def _stop_check(self) -> None:
        if self.check_task is not None:
            self.check_task.cancel()
            self.check_task = None

    def _checked(self, task: Task[FileCheck], check: FileCheck) -> None:
        if task is not self.check_task:
            return  # a check of an earlier mapping, stopped
        self.check_task = None
        self.file_check = check
        self.check.setText("\n".join(check.lines()))

    def _check_failed(self, task: Task[FileCheck]) -> None:
        if task is not self.check_task:
            return
        self.check_task = None
        self.check.setText("The file could not be checked; the import will report on "
                           "every row.")  # fmt: skip

    def _list_changed(self) -> None:
        self.new_list.setVisible(self.target_list.currentData() == -1)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """A new list needs a name."""
        return self.target_list.currentData() != -1 or bool(self.new_list.text().strip())


class RunPage(QWizardPage):
    """Runs the import with a progress bar and Cancel, then shows the report."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Import")
        self.owner = wizard
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.clicked.connect(self.cancel)
        self.rejections = QTableWidget(0, 3)
        self.rejections.setHorizontalHeaderLabels(["Line", "Email", "Reason"])
        self.rejections.horizontalHeader().setStretchLastSection(True)
        self.export_button = QPushButton("Export report…")
        self.export_button.clicked.connect(self._export)
        self.export_button.setEnabled(False)
        self.report: ImportReport | None = None
        self.task: Task[ImportReport] | None = None
        self.sending: Task[SentConfirmations] | None = None
        self.sent: SentConfirmations | None = None
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.rejections, 1)
        layout.addWidget(self.export_button)

    def initializePage(self) -> None:
        """Start the import as soon as the page shows."""
        plan = self.owner.plan()
        self.report = None
        self.status.setText("Importing…")
        self.owner.button(QWizard.WizardButton.BackButton).setEnabled(False)
        self.owner.button(QWizard.WizardButton.CancelButton).setEnabled(False)
        engine = self.owner.engine

        def work(task: Task[ImportReport]) -> ImportReport:
            def progress(done: int, total: int, report: ImportReport) -> None:
                task.report((done, total, report.rows_read))

            return run_import(engine, plan, progress, task.cancel_event)

        self.task = self.owner.runner.run(
            "Importing contacts", work, self._finished, on_progress=self._progress,
            on_error=self._failed, write=True,
        )  # fmt: skip

    def cancel(self) -> None:
        """Stop the import; the database is left as it was."""
        if self.task is not None:
            self.status.setText("Cancelling…")
            self.task.cancel()

    def _progress(self, value: object) -> None:
        assert isinstance(value, tuple)
        done, total, rows = value
        self.progress.setValue(int(1000 * done / total) if total else 1000)
        self.status.setText(f"{counted(rows, 'row')} read…")

    def _failed(self, exc: Exception) -> None:
        self.task = None
        self.status.setText(f"The import failed and was rolled back: {explain(exc)}")
        self._settle()

    def _finished(self, report: ImportReport) -> None:
        self.task = None
        self.report = report
        if report.cancelled:
            self.status.setText("Import cancelled: nothing was changed.")
        else:
            self.progress.setValue(1000)
            self.status.setText(report.summary())
            self.rejections.setRowCount(len(report.rejections))
            for row, rejection in enumerate(report.rejections):
                for column, value in enumerate((rejection.line, rejection.email,
                                                rejection.reason)):  # fmt: skip
                    self.rejections.setItem(row, column, QTableWidgetItem(str(value)))
            self.rejections.resizeColumnsToContents()
            self.export_button.setEnabled(True)
            self.owner.imported.emit()
            if report.to_confirm:
                self._send_confirmations(report)
        self._settle()

    def _send_confirmations(self, report: ImportReport) -> None:
        """Have the form's agent mail each new contact its confirmation link, with progress."""
        engine, ws, summary = self.owner.engine, self.owner.workspace_id, report.summary()

        def work(task: Task[SentConfirmations]) -> SentConfirmations:
            def report(done: int, total: int) -> None:
                task.report((done, total))

            return confirm_send.send_all(engine, ws, task.cancel_event, report)

        def progress(value: object) -> None:
            assert isinstance(value, tuple)
            done, total = value
            self.progress.setValue(int(1000 * done / total) if total else 1000)
            self.status.setText(f"{summary}\nSending confirmation mails: {done:,} of {total:,}…")

        def done(sent: SentConfirmations) -> None:
            self.sending, self.sent = None, sent
            self.progress.setValue(1000)
            self.status.setText(f"{summary}\n{sent_text(sent)}")
            self._settle()

        def failed(_exc: Exception) -> None:
            self.sending = None
            self.status.setText(f"{summary}\nThe confirmation mails are sent when the form's "
                                "agent can be reached.")  # fmt: skip
            self._settle()

        self.status.setText(f"{summary}\nSending confirmation mails…")
        self.sending = self.owner.runner.run("Sending confirmation mails", work, done,
                                             on_progress=progress, on_error=failed)  # fmt: skip

    def _settle(self) -> None:
        self.cancel_button.setEnabled(False)
        self.owner.button(QWizard.WizardButton.CancelButton).setEnabled(True)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Finish is enabled when the import, and the confirmation mails it asked for, ended."""
        return self.task is None and self.sending is None

    def export_report_to(self, path: Path) -> None:
        """Write the report as CSV (neutralised against formula injection)."""
        assert self.report is not None
        export.export_report(self.report, path)

    def _export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export report", "import-report.csv",
                                              "CSV (*.csv)")  # fmt: skip
        if name:
            self.export_report_to(Path(name))


class ImportWizard(QWizard):
    """The import wizard for one workspace; ``imported`` fires after a finished import."""

    imported = Signal()

    def __init__(
        self, engine: Engine, workspace_id: int, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import contacts")
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.path = Path()
        self.format = CsvFormat("utf-8", ",", True)
        self.header: list[str] = []
        # The workspace's fields and lists, read in the background; Next waits for them.
        self.fields: list[FieldSpec] = []
        self.lists: list[tuple[int, str]] = []
        # Double opt-in forms an agent publishes: new contacts may confirm through one.
        self.forms: list[tuple[int, str]] = []
        self.ready = False
        self.file_page = FilePage(self)
        self.mapping_page = MappingPage(self)
        self.options_page = OptionsPage(self)
        self.run_page = RunPage(self)
        for page in (self.file_page, self.mapping_page, self.options_page, self.run_page):
            self.addPage(page)
        self.resize(820, 560)
        runner.read(engine, "Reading fields, lists and signup forms",
                    lambda c: (list_fields(c, workspace_id), workspaces.lists(c, workspace_id),
                               signup_forms.confirming_forms(c, workspace_id)),
                    lambda found: self._loaded(*found))  # fmt: skip

    def _loaded(
        self, fields: list[FieldSpec], lists: list[tuple[int, str]], forms: list[tuple[int, str]]
    ) -> None:
        self.fields, self.lists, self.forms, self.ready = fields, lists, forms, True
        self.file_page.completeChanged.emit()

    def plan(self) -> ImportPlan:
        """The plan the pages describe."""
        columns: list[str | None] = []
        new_fields: list[NewField] = []
        known = {spec.key for spec in self.fields}
        for name, target in zip(self.header, self.mapping_page.targets(), strict=False):
            if target in _NEW:
                key = field_key(name)
                if key not in known:
                    new_fields.append(NewField(name, _NEW[target]))
                    known.add(key)
                columns.append(f"field:{key}")
            else:
                columns.append(target or None)
        options = self.options_page
        list_id = options.target_list.currentData()
        return ImportPlan(
            self.path,
            self.format,
            tuple(columns),
            self.workspace_id,
            new_fields=tuple(new_fields),
            list_id=None if list_id == -1 else list_id,
            new_list_name=options.new_list.text().strip() if list_id == -1 else None,
            update_existing=options.update_existing.isChecked(),
            confirm_form=options.confirm_form.currentData(),
        )

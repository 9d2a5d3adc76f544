"""Sending domains of one agent: add a domain, create its DKIM key on the agent, copy the DNS
records to publish, and check DNS with a plain verdict per record."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TypeVar

from mailfleet.desktop.agents import domains
from mailfleet.desktop.agents.domains import Record, Verdict
from mailfleet.desktop.agents.registry import AgentRecord, SendingDomain
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner

T = TypeVar("T")

MARKS = {"ok": "✔", "could be better": "⚠", "missing": "✖", "wrong": "✖"}
COLOURS = {"ok": "#1b7f3b", "could be better": "#b35900", "missing": "#b00020", "wrong": "#b00020"}


def records_text(found: list[Record]) -> str:
    """The records as a person copies them into a DNS provider's form: name, type, value."""
    blocks = []
    for r in found:
        lines = [f"{r.purpose}: {r.name}  {r.type}", r.value]
        if r.note:
            lines.append(f"Note: {r.note}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def verdicts_html(found: list[Verdict]) -> str:
    """One line per record: a mark, what was checked, the verdict, and the fix if any."""
    lines = []
    for v in found:
        colour = COLOURS.get(v.status, "#000000")
        line = (
            f'<span style="color:{colour}">{MARKS.get(v.status, "?")} <b>{escape(v.check)}</b>: '
            f"{escape(v.status)}</span> — {escape(v.detail)}"
        )
        if v.publish:
            line += f"<br>&nbsp;&nbsp;&nbsp;publish: <code>{escape(v.publish)}</code>"
        lines.append(line)
    return "<br>".join(lines)


class SendingDomainsDialog(QDialog):
    """One agent's sending domains with their DKIM state, records and DNS verdicts."""

    def __init__(self, record: AgentRecord, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.record = record
        self.runner = runner
        self.setWindowTitle(f"Sending domains — {record.name}")
        self.resize(900, 760)
        self.domains: list[SendingDomain] = []
        self.records: list[Record] = []
        self.verdicts: list[Verdict] | None = None
        # What the message line says once the background work is done.
        self.notice = ""

        self.new_domain = QLineEdit()
        self.new_domain.setPlaceholderText("The domain your From addresses use, e.g. shop.example")
        self.new_domain.returnPressed.connect(self.add)
        self.add_button = QPushButton("Add domain")
        self.add_button.clicked.connect(self.add)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Domain", "DKIM signing"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selected_changed)
        # Few domains a tenant: the room goes to the records and the verdicts.
        self.table.setMaximumHeight(140)
        self.key_button = QPushButton("Create DKIM key")
        self.key_button.setToolTip("Made on the agent; its private key never leaves it")
        self.key_button.clicked.connect(self.create_key)
        self.check_button = QPushButton("Check DNS")
        self.check_button.clicked.connect(self.check_dns)
        self.copy_button = QPushButton("Copy records")
        self.copy_button.clicked.connect(self.copy_records)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.records_view = QPlainTextEdit()
        self.records_view.setReadOnly(True)
        self.records_view.setPlaceholderText("Select a domain to see the records to publish.")
        self.verdicts_view = QLabel("")
        self.verdicts_view.setWordWrap(True)
        self.verdicts_view.setTextFormat(Qt.TextFormat.RichText)
        self.verdicts_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        add_row = QHBoxLayout()
        add_row.addWidget(self.new_domain, 1)
        add_row.addWidget(self.add_button)
        actions = QHBoxLayout()
        for button in (self.key_button, self.check_button, self.copy_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Receivers trust mail whose From domain is DKIM-signed and published in DNS "
                "(with SPF and DMARC). Add your domain, create its key, publish the records "
                "below at your DNS provider, then check."
            )
        )
        layout.addLayout(add_row)
        layout.addWidget(self.table)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(QLabel("<b>Records to publish</b>"))
        layout.addWidget(self.records_view, 1)
        layout.addWidget(QLabel("<b>DNS check</b>"))
        layout.addWidget(self.verdicts_view)
        layout.addStretch(1)
        self._enable()
        self.refresh()

    # -- data ---------------------------------------------------------------------------------
    def _network(
        self, description: str, work: Callable[[Task[T]], T], done: Callable[[T], None]
    ) -> None:
        """Run agent calls in the background; then show :attr:`notice`, or the refusal in
        words."""
        self.message.setText(f"{description}…")

        def finished(result: T) -> None:
            done(result)
            self.message.setText(self.notice)

        def failed(exc: Exception) -> None:
            self.message.setText(f"{description} failed: {explain(exc)}")
            self._enable()

        self.runner.run(description, work, finished, on_error=failed, network=True)

    def refresh(self) -> None:
        """Read the agent's sending domains."""
        record = self.record

        def work(_task: Task[list[SendingDomain]]) -> list[SendingDomain]:
            return domains.list_domains(record)

        self._network("Reading the sending domains", work, self._listed)

    def _listed(self, found: list[SendingDomain], select: str = "") -> None:
        chosen = self.selected()
        current = select or (chosen.domain if chosen is not None else "")
        self.domains = found
        if not found:
            self.notice = "No sending domain yet: add the domain of your From address."
        self.table.setRowCount(len(found))
        for row, domain in enumerate(found):
            signed = not domain.unsigned
            state = domain.describe().partition(" — ")[2] if signed else "not signed"
            self.table.setItem(row, 0, QTableWidgetItem(domain.domain))
            self.table.setItem(row, 1, QTableWidgetItem(state or "not reported"))
        names = [d.domain for d in found]
        if current in names:
            self.table.selectRow(names.index(current))
        elif len(found) == 1:
            self.table.selectRow(0)
        self._enable()

    def selected(self) -> SendingDomain | None:
        """The domain of the selected row."""
        rows = self.table.selectionModel().selectedRows()
        return self.domains[rows[0].row()] if rows and rows[0].row() < len(self.domains) else None

    def _selected_changed(self) -> None:
        self.records, self.verdicts = [], None
        self.notice = ""
        self.records_view.setPlainText("")
        self.verdicts_view.setText("")
        self._enable()
        domain = self.selected()
        if domain is not None:
            self._load_records(domain.domain)

    def _load_records(self, name: str) -> None:
        record = self.record

        def work(_task: Task[list[Record]]) -> list[Record]:
            return domains.records(record, name)

        def done(found: list[Record]) -> None:
            current = self.selected()
            if current is None or current.domain != name:
                return
            self.records = found
            self.records_view.setPlainText(records_text(found))
            self._enable()

        self._network("Reading the records to publish", work, done)

    def _enable(self) -> None:
        domain = self.selected()
        self.key_button.setEnabled(domain is not None and domain.unsigned)
        self.check_button.setEnabled(domain is not None)
        self.copy_button.setEnabled(bool(self.records))

    # -- actions ------------------------------------------------------------------------------
    def add(self) -> None:
        """Add the typed domain to the agent."""
        text, record = self.new_domain.text(), self.record
        self.add_button.setEnabled(False)

        def work(_task: Task[list[SendingDomain]]) -> list[SendingDomain]:
            return domains.add_domain(record, text)

        def done(found: list[SendingDomain]) -> None:
            self.add_button.setEnabled(True)
            self.new_domain.clear()
            added = text.strip().lower()
            match = next((d.domain for d in found if d.domain == added), "")
            self._listed(found, select=match or (found[-1].domain if found else ""))
            self.notice = f"Added {match}: create its DKIM key next." if match else ""

        def failed(exc: Exception) -> None:
            self.add_button.setEnabled(True)
            self.message.setText(f"Could not add {text.strip()}: {explain(exc)}")

        self.message.setText("Adding the domain…")
        self.runner.run("Adding a sending domain", work, done, on_error=failed, network=True)

    def create_key(self) -> None:
        """Create the selected domain's DKIM key on the agent, then show its records."""
        domain, record = self.selected(), self.record
        if domain is None:
            return
        self.key_button.setEnabled(False)
        name = domain.domain

        def work(_task: Task[Record]) -> Record:
            return domains.generate_key(record, name)

        def done(_made: Record) -> None:
            self.refresh()
            self._load_records(name)
            self.notice = (
                f"The agent signs mail from {name} now. Publish the DKIM record below so "
                "receivers can verify it, then check DNS."
            )

        self._network("Creating the DKIM key", work, done)

    def check_dns(self) -> None:
        """Ask the agent to look the selected domain up in DNS; show a verdict per record."""
        domain, record = self.selected(), self.record
        if domain is None:
            return
        self.check_button.setEnabled(False)
        name = domain.domain

        def work(_task: Task[list[Verdict]]) -> list[Verdict]:
            return domains.check(record, name)

        def done(found: list[Verdict]) -> None:
            self.verdicts = found
            self.verdicts_view.setText(verdicts_html(found))
            bad = sum(1 for v in found if v.missing_or_wrong)
            self.notice = (
                f"DNS of {name}: every record is in place."
                if not bad
                else f"DNS of {name}: {counted(bad, 'record')} of {len(found)} to fix (see below)."
            )
            self._enable()

        self._network("Checking DNS", work, done)

    def copy_records(self) -> None:
        """Put the records to publish on the clipboard."""
        QApplication.clipboard().setText(records_text(self.records))
        self.notice = "The records are on the clipboard."
        self.message.setText(self.notice)

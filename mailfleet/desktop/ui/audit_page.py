"""The Audit log page: who changed what, when and from where, on the desktops and the agents;
filtered, and exported as CSV."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents import audit_pull
from mailfleet.desktop.agents.audit_pull import Collected
from mailfleet.desktop.agents.registry import list_agents
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import audit_log
from mailfleet.desktop.services.audit_log import DESKTOP, Filter, Row
from mailfleet.desktop.services.people import Action
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates, roles
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Latest, Task, TaskRunner

COLUMNS = ("Time", "Person", "Where", "From", "Action", "Outcome", "Details")
PERIODS: tuple[tuple[str, timedelta | None], ...] = (
    ("Any time", None),
    ("Last 24 hours", timedelta(days=1)),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
)
EVERYONE = "Everyone"
EVERYWHERE = "Everywhere"
log = logging.getLogger("mailfleet.desktop")


class AuditPage(QWidget):
    """The team's audit log; **Refresh** first copies the agents' new entries."""

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.rows: list[Row] = []
        self._collected = Collected(0)
        self._latest = Latest()
        self.person = QComboBox()
        self.person.addItem(EVERYONE, "")
        self.source = QComboBox()
        self.source.addItem(EVERYWHERE, "")
        self.source.addItem("The desktops", DESKTOP)
        self.period = QComboBox()
        for text, _ in PERIODS:
            self.period.addItem(text)
        self.text = QLineEdit(placeholderText="Action or details contain…")
        self.text.setAccessibleName("Search the audit log")
        self.text.setClearButtonEnabled(True)
        for combo in (self.person, self.source, self.period):
            combo.currentIndexChanged.connect(lambda _i: self.show_entries())
        self.text.returnPressed.connect(self.show_entries)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Copy the agents' new entries, then show the log")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._export)
        for widget in (self.refresh_button, self.export_button):
            roles.guard(widget, engine, Action.READ_AUDIT)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Audit log")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        filters = QHBoxLayout()
        for control in (self.person, self.source, self.period):
            filters.addWidget(control)
        filters.addWidget(self.text, 1)
        filters.addWidget(self.refresh_button)
        filters.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Audit log</h2>"))
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        """Copy the agents' new entries (in the background), then show the log."""
        if not roles.allowed(self.engine, Action.READ_AUDIT):
            seat = roles.seat_of(self.engine)
            self.status.setText(seat.why_not(Action.READ_AUDIT) if seat is not None else "")
            return
        self.status.setText("Reading the agents' audit logs…")
        ws = self.workspace_id

        def work(_task: Task[Collected]) -> Collected:
            return audit_pull.collect(self.engine, ws)

        def done(collected: Collected) -> None:
            self._collected = collected
            self.show_entries()

        def failed(exc: Exception) -> None:
            log.warning("copying the agents' audit entries failed", exc_info=exc)
            self._collected = Collected(0, failed=True)
            self.show_entries()

        self._collected = Collected(0)
        self.runner.run("Reading the agents' audit logs", work, done, on_error=failed,
                        network=True)  # fmt: skip

    def wanted(self) -> Filter:
        """The filter the controls describe."""
        since = PERIODS[self.period.currentIndex()][1]
        return Filter(
            person=str(self.person.currentData() or ""),
            source=str(self.source.currentData() or ""),
            text=self.text.text().strip(),
            since=utcnow() - since if since is not None else None,
        )

    def show_entries(self) -> None:
        """Read the entries the filters ask for."""
        if not roles.allowed(self.engine, Action.READ_AUDIT):
            return
        ws, wanted = self.workspace_id, self.wanted()

        def read(conn: Connection) -> tuple[list[Row], list[str], list[str]]:
            names = [a.name for a in list_agents(conn, ws)]
            return audit_log.entries(conn, ws, wanted), audit_log.people_in_log(conn, ws), names

        self.runner.read(self.engine, "Reading the audit log", read, self._latest.only(self._show))

    def _show(self, found: tuple[list[Row], list[str], list[str]]) -> None:
        rows, names, agents = found
        self._offer(self.person, names)
        self._offer(self.source, agents, keep=2)
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            where = "desktop" if r.source == DESKTOP else r.source
            cells = (dates.show(r.at, seconds=True), r.person or "—", where, r.origin, r.action,
                     r.outcome, r.summary)  # fmt: skip
            for column, text in enumerate(cells):
                self.table.setItem(i, column, QTableWidgetItem(text))
        text = counted(len(rows), "entry", "entries")
        skipped = self._collected.skipped
        if self._collected.failed:
            text += ". The agents' new entries could not be copied this time"
        if skipped:
            text += (
                ". Not read now: " + ", ".join(skipped) + " (unreachable, or your key there "
                "cannot read its audit log)"
            )
        self.status.setText(text + ".")

    @staticmethod
    def _offer(combo: QComboBox, values: list[str], keep: int = 1) -> None:
        """Put ``values`` after the first ``keep`` items, keeping the current choice."""
        current = combo.currentData()
        have = [combo.itemData(i) for i in range(keep, combo.count())]
        if have == values:
            return
        combo.blockSignals(True)
        while combo.count() > keep:
            combo.removeItem(keep)
        for value in values:
            combo.addItem(value, value)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def export_file(self, path: Path) -> None:
        """Write the entries shown to ``path`` as CSV."""
        rows = list(self.rows)

        def work(_task: Task[int]) -> int:
            return audit_log.export(rows, path)

        def done(n: int) -> None:
            self.status.setText(f"Exported {counted(n, 'entry', 'entries')} to {path.name}.")

        self.runner.run("Exporting the audit log", work, done)

    def _export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export", "audit-log.csv", "CSV (*.csv)")
        if name:
            self.export_file(Path(name))

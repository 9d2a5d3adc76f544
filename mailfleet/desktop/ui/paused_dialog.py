"""Paused destinations of one agent: the recipient domains and routes whose mail the agent holds
back, why and until when, and resuming one."""

from __future__ import annotations

from mailfleet.desktop.agents import suspensions
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.agents.suspensions import Paused
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner

COLUMNS = ("Destination", "Why", "Paused since", "Until")
NOTHING_PAUSED = "Nothing is paused: the agent sends to every destination."


class PausedDialog(QDialog):
    """One agent's paused destinations, with a Resume button for the selected one."""

    def __init__(self, record: AgentRecord, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.record = record
        self.runner = runner
        self.paused: list[Paused] = []
        self.setWindowTitle(f"Paused destinations — {record.name}")
        self.resize(760, 360)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._enable)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Its waiting mail goes out again at once")
        self.resume_button.clicked.connect(self.resume)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        self.table.verticalHeader().hide()
        intro = QLabel(
            "The agent holds back mail to these destinations (paused by its operator, e.g. "
            "while a receiver blocks it). Their mail waits and is not counted as failed."
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self._enable()
        self.refresh()

    def refresh(self) -> None:
        """Read the agent's paused destinations."""
        record = self.record
        self.message.setText("Reading the paused destinations…")

        def work(_task: Task[list[Paused]]) -> list[Paused]:
            return suspensions.paused(record)

        self.runner.run(
            "Reading the paused destinations", work, self._listed, on_error=self._failed,
            network=True,
        )  # fmt: skip

    def _failed(self, exc: Exception) -> None:
        self.message.setText(f"Could not reach {self.record.name}: {explain(exc)}")
        self._enable()

    def _listed(self, found: list[Paused]) -> None:
        self.paused = found
        self.table.setRowCount(len(found))
        for row, item in enumerate(found):
            cells = (
                item.what,
                item.reason or "—",
                dates.show(item.since),
                dates.show(item.until) if item.until else "until resumed",
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if len(found) == 1:
            self.table.selectRow(0)
        self.message.setText(
            f"{counted(len(found), 'destination')} paused." if found else NOTHING_PAUSED
        )
        self._enable()

    def selected(self) -> Paused | None:
        """The paused destination of the selected row."""
        rows = self.table.selectionModel().selectedRows()
        return self.paused[rows[0].row()] if rows and rows[0].row() < len(self.paused) else None

    def resume(self) -> None:
        """Let the selected destination's mail go out again."""
        item = self.selected()
        if item is None:
            return
        record = self.record
        self.resume_button.setEnabled(False)
        self.message.setText(f"Resuming {item.what}…")

        def work(_task: Task[list[Paused]]) -> list[Paused]:
            suspensions.resume(record, item)
            return suspensions.paused(record)

        def done(found: list[Paused]) -> None:
            self._listed(found)
            self.message.setText(f"Resumed {item.what}: its mail goes out again.")

        self.runner.run(f"Resuming {item.what}", work, done, on_error=self._failed, network=True)

    def _enable(self) -> None:
        self.resume_button.setEnabled(self.selected() is not None)

"""The captured-mail viewer: what an agent's capture route kept instead of sending."""

from __future__ import annotations

import html

from mailfleet.desktop.agents import capture
from mailfleet.desktop.agents.capture import Shown
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner
from mailfleet.v1 import capture_pb2


class CaptureViewer(QDialog):
    """Lists an agent's captured messages and shows the selected one."""

    def __init__(
        self, record: AgentRecord, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Captured mail — {record.name}")
        self.resize(1000, 640)
        self.record = record
        self.runner = runner
        self.messages: list[capture_pb2.CapturedMessage] = []
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Time", "From", "To", "Size"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._open_selected)
        self.headers = QLabel("")
        self.headers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headers.setWordWrap(True)
        self.body = QTextBrowser()
        self.body.setOpenLinks(False)
        self.status = QLabel("Loading…")
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.headers)
        column.addWidget(self.body, 1)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(right)
        split.setSizes([420, 580])
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        self.refresh()

    def refresh(self) -> None:
        """Reload the list in the background."""
        record = self.record

        def work(
            task: Task[list[capture_pb2.CapturedMessage]],
        ) -> list[capture_pb2.CapturedMessage]:
            return capture.list_captured(record)

        self.runner.run(
            "Reading captured mail", work, self._listed, on_error=self._failed, network=True
        )

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"Could not read the capture mailbox: {explain(exc)}")

    def _listed(self, messages: list[capture_pb2.CapturedMessage]) -> None:
        self.messages = messages
        self.table.setRowCount(len(messages))
        for row, m in enumerate(messages):
            when = dates.show(m.time.ToDatetime(), seconds=True)
            for col, text in enumerate((when, m.mail_from, m.rcpt_to, f"{m.size:,} B")):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.status.setText(
            f"{counted(len(messages), 'captured message')}: kept on the agent, never sent."
            if messages
            else "Nothing captured yet."
        )
        if messages:
            self.table.selectRow(0)

    def _open_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        record, captured_id = self.record, self.messages[rows[0].row()].id

        def work(task: Task[Shown]) -> Shown:
            return capture.parse_message(capture.fetch(record, captured_id))

        self.runner.run(
            "Opening a captured message", work, self._show, on_error=self._failed, network=True
        )

    def _show(self, shown: Shown) -> None:
        self.headers.setText(f"<pre>{html.escape(shown.headers)}</pre>")
        self.body.setHtml(shown.body_html)

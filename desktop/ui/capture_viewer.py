"""The captured-mail viewer: what an agent's capture route kept instead of sending."""

from __future__ import annotations

import email
import email.policy
import html
from dataclasses import dataclass
from email.message import EmailMessage

from desktop.services import agents
from desktop.services.agents import AgentRecord
from desktop.ui.qt import (
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
from desktop.ui.tasks import Task, TaskRunner
from mailfleet.v1 import capture_pb2, capture_pb2_grpc

PAGE = 500


@dataclass(frozen=True)
class Shown:
    """A captured message ready to display."""

    subject: str
    headers: str
    body_html: str


def parse_message(data: bytes) -> Shown:
    """Headers and the best body of an RFC 5322 message (HTML preferred, else text)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    part = message.get_body(preferencelist=("html", "plain"))
    body = ""
    if part is not None:
        content = part.get_content()
        body = (
            content
            if part.get_content_subtype() == "html"
            else (f"<pre>{html.escape(content)}</pre>")
        )
    return Shown(str(message.get("Subject", "")), headers, body)


def list_captured(record: AgentRecord) -> list[capture_pb2.CapturedMessage]:
    """The newest captured messages of the agent, newest first (blocking)."""
    found: list[capture_pb2.CapturedMessage] = []
    with agents.channel(record) as ch:
        stub = capture_pb2_grpc.CaptureStub(ch)
        after = 0
        while True:
            page = stub.ListCaptured(
                capture_pb2.ListCapturedRequest(after_id=after, limit=1000),
                timeout=agents.CALL_TIMEOUT,
            )
            found.extend(page.messages)
            if len(page.messages) < 1000:
                break
            after = page.messages[-1].id
    return list(reversed(found[-PAGE:]))


def fetch(record: AgentRecord, captured_id: int) -> bytes:
    """One captured message's bytes (blocking)."""
    with agents.channel(record) as ch:
        reply = capture_pb2_grpc.CaptureStub(ch).GetCaptured(
            capture_pb2.GetCapturedRequest(captured_id=captured_id), timeout=agents.CALL_TIMEOUT
        )
    return bytes(reply.data)


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
            return list_captured(record)

        self.runner.run(
            "Reading captured mail", work, self._listed, on_error=self._failed, network=True
        )

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"Could not read the capture mailbox: {exc}")

    def _listed(self, messages: list[capture_pb2.CapturedMessage]) -> None:
        self.messages = messages
        self.table.setRowCount(len(messages))
        for row, m in enumerate(messages):
            when = m.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
            for col, text in enumerate((when, m.mail_from, m.rcpt_to, f"{m.size:,} B")):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.status.setText(
            f"{len(messages)} captured message(s): kept on the agent, never sent."
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
            return parse_message(fetch(record, captured_id))

        self.runner.run(
            "Opening a captured message", work, self._show, on_error=self._failed, network=True
        )

    def _show(self, shown: Shown) -> None:
        self.headers.setText(f"<pre>{html.escape(shown.headers)}</pre>")
        self.body.setHtml(shown.body_html)

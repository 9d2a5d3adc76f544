"""The Suppression page: the workspace's do-not-mail list; add, remove, import, export.

Every change is pushed to the paired agents (``FleetSync.push_suppressions``, wired by the
window to ``changed``); the page says which agents still wait for changes, counted in the
background.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents import suppression_sync
from mailfleet.desktop.db.models import SuppressionReason
from mailfleet.desktop.services import export, suppression
from mailfleet.desktop.services.people import Action
from mailfleet.desktop.services.plurals import counted, plural
from mailfleet.desktop.ui import dates, roles
from mailfleet.desktop.ui.messages import SUPPRESSION_REASONS, explain, suppression_source
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

T = TypeVar("T")


class SuppressionPage(QWidget):
    """List, search, add, remove, import and export suppression entries."""

    # The list changed (after the write finished): the agents should get it.
    changed = Signal()

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.search = QLineEdit(placeholderText="Search addresses…")
        self.search.setAccessibleName("Search suppressed addresses")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._debounce.start)
        self.address = QLineEdit(placeholderText="address@example.com")
        self.address.setAccessibleName("Address to suppress")
        self.reason = QComboBox()
        for reason in SuppressionReason:
            if reason is not SuppressionReason.ERASED:
                self.reason.addItem(reason.value, reason.value)
        self.reason.setCurrentIndex(self.reason.findData(SuppressionReason.MANUAL.value))
        add = QPushButton("Add")
        add.clicked.connect(self.add_address)
        self.address.returnPressed.connect(self.add_address)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self.remove_selected)
        roles.guard(remove, engine, Action.REMOVE_SUPPRESSION)
        self.remove_button = remove
        import_button = QPushButton("Import…")
        import_button.clicked.connect(self._import)
        export_button = QPushButton("Export…")
        export_button.clicked.connect(self._export)
        self.table = QTableWidget(0, 4)
        self.table.setAccessibleName("Suppressed addresses")
        self.table.setHorizontalHeaderLabels(["Email", "Reason", "Source", "Added"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.status = QLabel("Loading…")
        self.agents_status = QLabel("")
        self.agents_status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 2)
        top.addWidget(self.address, 2)
        top.addWidget(self.reason)
        top.addWidget(add)
        bottom = QHBoxLayout()
        for button in (remove, import_button, export_button):
            bottom.addWidget(button)
        bottom.addStretch(1)
        bottom.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.agents_status)
        layout.addLayout(bottom)
        self._ids: list[int] = []
        self._agents_generation = 0
        self._latest = Latest()
        self.refresh()

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        """Show the newest entries matching the search (read in the background), then call
        ``then``."""
        ws, search = self.workspace_id, self.search.text().strip()

        def read(conn: Connection) -> tuple[list[suppression.Entry], int]:
            return suppression.entries(conn, ws, search), suppression.count(conn, ws)

        def show(found: tuple[list[suppression.Entry], int]) -> None:
            self._show(*found)
            if then is not None:
                then()

        self.runner.read(self.engine, "Reading suppressions", read, self._latest.only(show))

    def _show(self, entries: list[suppression.Entry], total: int) -> None:
        self._ids = [e.id for e in entries]
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            cells = (entry.email or "(erased contact, hash only)",
                     SUPPRESSION_REASONS[entry.reason.value], suppression_source(entry.source),
                     dates.show(entry.created_at))  # fmt: skip
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        self.status.setText(counted(total, "suppressed address", "suppressed addresses"))
        self.refresh_agents()

    def refresh_agents(self) -> None:
        """Say which agents still wait for changes of the list (counted in the background;
        only the latest count is shown)."""
        self._agents_generation += 1
        generation, ws = self._agents_generation, self.workspace_id

        def show(waiting: dict[str, int]) -> None:
            if generation != self._agents_generation:
                return
            self.agents_status.setText(
                "Agents waiting for changes: "
                + ", ".join(f"{name} ({n:,})" for name, n in sorted(waiting.items()))
                + ". They get them as soon as they can be reached."
                if waiting
                else ""
            )

        def fail(exc: Exception) -> None:
            if generation == self._agents_generation:
                self.agents_status.setText(
                    f"⚠ Cannot count the changes agents wait for: {explain(exc)}"
                )

        self.runner.read(self.engine, "Counting changes for the agents",
                         lambda c: suppression_sync.pending_by_agent(c, ws), show,
                         on_error=fail)  # fmt: skip

    def _write(self, description: str, change: Callable[[Connection], T],
               done: Callable[[T], None] | None = None) -> None:  # fmt: skip
        def finished(result: T) -> None:
            self.changed.emit()
            # The page shows what the write did once it shows the list it changed.
            self.refresh(then=None if done is None else lambda: done(result))

        self.runner.write(
            self.engine, description, change, finished,
            on_error=lambda exc: self.status.setText(f"⚠ {explain(exc)}"),
        )  # fmt: skip

    def add_address(self) -> None:
        """Suppress the address typed in."""
        text = self.address.text().strip()
        reason = SuppressionReason(self.reason.currentData())
        if not text:
            return
        ws = self.workspace_id
        self.address.clear()
        self._write("Suppressing", lambda c: suppression.add(c, ws, text, reason, "desktop"))

    def remove_selected(self) -> None:
        """Remove the selected entries."""
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        ids = [self._ids[row] for row in rows]
        ws = self.workspace_id

        def change(conn: Connection) -> None:
            for entry_id in ids:
                suppression.remove(conn, ws, entry_id)

        self._write("Removing suppressions", change)

    def import_file(self, path: Path) -> None:
        """Suppress every address in the first column of ``path``."""
        ws = self.workspace_id

        def report(counts: tuple[int, int]) -> None:
            what = plural(counts[1], "is not an address", "are not addresses")
            self.status.setText(f"Imported {counts[0]:,} new, refused {counts[1]:,} that {what}")

        self._write("Importing suppressions",
                    lambda c: suppression.import_addresses(c, ws, path, f"import: {path.name}"),
                    report)  # fmt: skip

    def export_file(self, path: Path) -> None:
        """Export the whole list as CSV, in the background."""
        ws = self.workspace_id

        def write(conn: Connection) -> int:
            entries = suppression.entries(conn, ws, limit=10_000_000)
            export.write_csv(path, ["email", "reason", "source", "created_at"],
                             ([e.email or "", e.reason.value, e.source, e.created_at]
                              for e in entries))  # fmt: skip
            return len(entries)

        def done(n: int) -> None:
            self.status.setText(f"Exported {counted(n, 'entry', 'entries')} to {path.name}")

        self.runner.read(
            self.engine,
            "Exporting suppressions",
            write,
            done,
            on_error=lambda exc: self.status.setText(f"⚠ Not exported: {explain(exc)}"),
        )

    def _import(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import suppressions", "", "CSV (*.csv *.txt)")
        if name:
            self.import_file(Path(name))

    def _export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export", "suppressions.csv", "CSV (*.csv)")
        if name:
            self.export_file(Path(name))

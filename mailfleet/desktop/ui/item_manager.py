"""The shape the field and list managers share: a table of the workspace's items read in the
background, one chosen at a time, changes written on the write queue with a line saying what
happened, and the table read again after each.

Subclasses say how to read the items (``read_items``), show one (``cells``), name it
(``identity``, to keep it selected across reads) and what the selection enables
(``selected``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner


class ItemManager(QDialog):
    """A dialog over a table of items; ``changed`` fires after each change it made."""

    changed = Signal()
    empty_text = ""  # shown when there is no item yet

    def __init__(self, title: str, headers: list[str], engine: Engine, workspace_id: int,
                 runner: TaskRunner, parent: QWidget | None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(title)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.items: list[Any] = []
        self.confirm: QMessageBox | None = None  # the question open now, if any
        self._latest = Latest()
        self._pending: str | None = None  # the item to select once the table is read again
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(lambda: self.selected(self.current()))
        self.message = QLabel("Loading…")
        self.message.setWordWrap(True)

    # -- what a subclass says -----------------------------------------------------------------
    def read_items(self, conn: Connection) -> list[Any]:
        """The items, read on the runner."""
        raise NotImplementedError

    def cells(self, item: Any) -> tuple[str, ...]:
        """The item's row in the table."""
        raise NotImplementedError

    def identity(self, item: Any) -> str:
        """What tells the item apart across reads (its key or name)."""
        raise NotImplementedError

    def selected(self, item: Any | None) -> None:
        """The selection changed to ``item`` (None: nothing selected)."""

    # -- shared -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the items again in the background."""
        self.runner.read(self.engine, f"Reading {self.windowTitle().lower()}", self.read_items,
                         self._latest.only(self._show), on_error=self.error)  # fmt: skip

    def _show(self, items: list[Any]) -> None:
        current = self.current()
        wanted = self._pending or (self.identity(current) if current is not None else None)
        self._pending = None
        self.items = items
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            for column, text in enumerate(self.cells(item)):
                self.table.setItem(row, column, QTableWidgetItem(text))
            if self.identity(item) == wanted:
                self.table.selectRow(row)
        if self.message.text() == "Loading…":
            self.message.setText("" if items else self.empty_text)
        self.selected(self.current())

    def current(self) -> Any | None:
        """The selected item."""
        rows = self.table.selectionModel().selectedRows()
        return self.items[rows[0].row()] if rows and rows[0].row() < len(self.items) else None

    def select(self, identity: str) -> None:
        """Select the item that ``identity`` names."""
        row = next((i for i, item in enumerate(self.items) if self.identity(item) == identity),
                   None)  # fmt: skip
        if row is not None:
            self.table.selectRow(row)

    def write(
        self,
        description: str,
        change: Callable[[Connection], Any],
        done: Callable[[Any], str],
        select: Callable[[Any], str] | None = None,
    ) -> None:
        """Run ``change`` on the write queue; then say ``done(result)``, select
        ``select(result)`` and read the items again."""

        def finished(result: Any) -> None:
            self._pending = select(result) if select is not None else None
            self.message.setText(done(result))
            self.changed.emit()
            self.refresh()

        self.runner.write(self.engine, description, change, finished, on_error=self.error)

    def error(self, exc: Exception) -> None:
        """Say why something could not be done."""
        self.message.setText(f"⚠ {explain(exc)}")

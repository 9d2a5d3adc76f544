"""A table model over the contacts of a workspace that never loads the whole table.

Counting (which may scan) and every page read run in the background: ``data()`` answers from
the pages ``ContactPager`` has cached, shows "…" for a row whose page is still being read, and
the rows fill in when it arrives. The GUI thread never reads the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from mailfleet.desktop.services import contacts
from mailfleet.desktop.services.contacts import ContactFilter, ContactPager, ContactRow
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.qt import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from mailfleet.desktop.ui.tasks import Task, TaskRunner

COLUMNS = (("email", "Email"), ("first_name", "First name"), ("last_name", "Last name"),
           ("status", "Status"), ("created", "Added"))  # fmt: skip
Index = QModelIndex | QPersistentModelIndex
STATUS_COLUMN = [key for key, _ in COLUMNS].index("status")


class ContactsModel(QAbstractTableModel):
    """Rows of ``ContactPager``; ``reload()`` recounts in the background."""

    loaded = Signal(int)

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.pager = ContactPager(engine, workspace_id)
        # The view last asked for: a reload asked while another is still counting builds on
        # it, not on the pager shown, or a filter chosen then would drop the sort asked before.
        self._asked = self.pager
        self._generation = 0
        self._pending: set[int] = set()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Rows matching the filter (0 for child indexes: this is a flat table)."""
        return 0 if parent.isValid() else self.pager.total

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """The fixed columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, fetched by page on first sight."""
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        row = self.pager.cached_row(index.row())
        if row is None:
            if not 0 <= index.row() < self.pager.total:
                return None
            self._fetch(index.row() // self.pager.page_size)
            return "…" if index.column() == 0 else None
        key = COLUMNS[index.column()][0]
        if key == "created":
            return dates.show(row.created_at)
        if key == "status":
            return contacts.status_text(row.status)
        return getattr(row, key)

    def _fetch(self, number: int) -> None:
        if number in self._pending:
            return
        self._pending.add(number)
        pager = self.pager
        read = pager.reader(number)  # set up here, from the pages cached now

        def fetch(_task: Task[list[ContactRow]]) -> list[ContactRow]:
            return read()

        def store(rows: list[ContactRow]) -> None:
            if pager is not self.pager:
                return  # the filter or sort changed meanwhile
            self._pending.discard(number)
            pager.store(number, rows)
            first = number * pager.page_size
            last = min(first + pager.page_size, pager.total) - 1
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

        self.runner.run("Loading contacts", fetch, store)

    def contact(self, row: int) -> ContactRow | None:
        """The contact shown on ``row`` (None while its page is still being read)."""
        return self.pager.cached_row(row)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column (in the database)."""
        self.reload(sort=COLUMNS[column][0], descending=order == Qt.SortOrder.DescendingOrder)

    def set_filter(self, flt: ContactFilter) -> None:
        """Show only contacts matching ``flt``."""
        self.reload(flt=flt)

    @property
    def filter(self) -> ContactFilter:
        """The current filter."""
        return self.pager.flt

    def reload(
        self,
        *,
        flt: ContactFilter | None = None,
        sort: str | None = None,
        descending: bool | None = None,
        in_place: bool = False,
        warm_row: int = 0,
    ) -> None:
        """Recount in the background, then swap in a fresh pager (stale answers are dropped).

        ``in_place`` re-reads the same view without disturbing it: when the count is unchanged
        the rows are updated where they stand, so the selection and the scroll position stay
        (an automatic refresh while someone reads the list). ``warm_row``'s page is read with
        the count, so the rows in view come back without a flicker of "…".
        """
        self._generation += 1
        generation = self._generation
        asked = self._asked
        fresh = self._asked = ContactPager(
            self.engine,
            self.workspace_id,
            flt=flt if flt is not None else asked.flt,
            sort=sort or asked.sort,
            descending=asked.descending if descending is None else descending,
        )

        def count(_task: Task[ContactPager]) -> ContactPager:
            fresh.refresh()
            fresh.row(min(warm_row, max(fresh.total - 1, 0)))  # off the GUI thread
            return fresh

        def swap(pager: ContactPager) -> None:
            if generation != self._generation:
                return
            if in_place and pager.total == self.pager.total:
                self.pager = pager
                self._pending.clear()
                if pager.total:
                    last = self.index(pager.total - 1, self.columnCount() - 1)
                    self.dataChanged.emit(self.index(0, 0), last)
            else:
                self.beginResetModel()
                self.pager = pager
                self._pending.clear()
                self.endResetModel()
            self.loaded.emit(pager.total)

        self.runner.run("Counting contacts", count, swap)

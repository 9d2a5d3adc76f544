"""The block editor: the design's sections, columns and blocks as a list to drag into order,
buttons to add and remove them, and a panel with the chosen one's properties.

The list is the flat reading order of ``services.blocks.outline``; a drop that leaves no design
(a block above every section) is undone with the reason shown. Editing never touches the
database: the page saves ``design()`` through its runner.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial

from mailfleet.desktop.services.blocks import model, outline
from mailfleet.desktop.services.blocks.model import Block, Column, Design, DesignError, Section
from mailfleet.desktop.ui.block_properties import PropertiesPanel
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QEvent,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QObject,
    QPushButton,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)

SETTINGS_ROW = "✉  Message settings"


def describe(entry: outline.Entry, number: int = 0) -> str:
    """How an entry reads in the list: what it is and the start of its text."""
    if isinstance(entry, Section):
        return "▦  Section"
    if isinstance(entry, Column):
        return f"    ▯  Column {number}"
    words = next(
        (getattr(entry, f.name) for f in fields(entry) if f.name in ("text", "label", "alt")), ""
    )
    words = " ".join(str(words).split())
    shown = f": {words[:40]}…" if len(words) > 40 else (f": {words}" if words else "")
    return f"        {entry.title}{shown}"


class BlockEditor(QWidget):
    """Edits one design; ``changed`` is emitted after every edit."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._settings = Design()
        self._entries: list[outline.Entry] = []
        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        # Read the new order once the drop is over (the list is refilled, which a drop in
        # progress must not see); moves in quick succession are read once.
        self._moved = QTimer(self)
        self._moved.setSingleShot(True)
        self._moved.setInterval(0)
        self._moved.timeout.connect(self._reordered)
        self.list.model().rowsMoved.connect(self._moved.start)
        self.list.currentRowChanged.connect(self._chosen)
        self.list.installEventFilter(self)  # Alt+Up / Alt+Down move the chosen row
        self.problem = QLabel("")
        self.problem.setObjectName("error")
        self.problem.setWordWrap(True)
        self.properties = PropertiesPanel()
        self.properties.edited.connect(self._edited)

        add = QPushButton("Add…")
        menu = QMenu(add)
        for columns in (1, 2, 3):
            label = "Section" if columns == 1 else f"Section of {columns} columns"
            menu.addAction(label, partial(self.add_section, columns))
        menu.addSeparator()
        for cls in model.BLOCK_TYPES.values():
            menu.addAction(cls.title, partial(self._add_new, cls))
        add.setMenu(menu)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        hint = QLabel(
            "Drag to reorder (or Alt+Up / Alt+Down): a block belongs to the column above it."
        )
        hint.setObjectName("caption")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 3)
        layout.addWidget(hint)
        layout.addWidget(self.problem)
        layout.addWidget(self.properties, 4)

    def set_design(self, design: Design, chosen: int = 0) -> None:
        """Show ``design`` and choose its ``chosen``-th row (0: the message settings)."""
        self._settings = design
        self._entries = outline.entries(design)
        self.problem.clear()
        self._fill(chosen)

    def design(self) -> Design:
        """The design as edited."""
        return outline.design(self._entries, self._settings)

    def _fill(self, chosen: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        settings = QListWidgetItem(SETTINGS_ROW)
        settings.setFlags(settings.flags() & ~Qt.ItemFlag.ItemIsDragEnabled)
        self.list.addItem(settings)
        for index, label in enumerate(self._labels()):
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, index)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setCurrentRow(min(chosen, self.list.count() - 1))
        self._chosen(self.list.currentRow())

    def _labels(self) -> list[str]:
        labels, column = [], 0
        for entry in self._entries:
            column = 0 if isinstance(entry, Section) else column + isinstance(entry, Column)
            labels.append(describe(entry, column))
        return labels

    def _chosen(self, row: int) -> None:
        self.properties.show_object(self._at(row))

    def _at(self, row: int) -> object:
        if row <= 0:
            return self._settings
        return self._entries[row - 1]

    def _reordered(self) -> None:
        rows = range(1, self.list.count())  # row 0, the message settings, cannot be dragged
        order = [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in rows]
        moved = [self._entries[i] for i in order if i is not None]
        current = self.list.currentItem()
        chosen = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        try:
            outline.design(moved, self._settings)
        except DesignError as exc:
            self.problem.setText(f"Not moved: {explain(exc)}")
            self._fill(self.list.currentRow())
            return
        self.problem.clear()
        self._entries = moved
        self._fill(1 + order.index(chosen) if chosen in order else 0)
        self.changed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Alt+Up / Alt+Down on the list move the chosen row past its neighbour."""
        if (
            watched is self.list
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.modifiers() == Qt.KeyboardModifier.AltModifier
            and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down)
        ):
            self.move_chosen(-1 if event.key() == Qt.Key.Key_Up else 1)
            return True
        return False

    def move_chosen(self, step: int) -> None:
        """Move the chosen entry up (``step`` -1) or down (1) past its neighbour, keeping it
        chosen: a block past the block next to it (at a column's edge, into the column before
        or after); a column or section with what it holds, past the column or section next to
        it (a section's first or last column into the section before or after). Nothing moves
        when there is nowhere to go."""
        row = self.list.currentRow()
        if row <= 0:
            return
        start = row - 1
        end = self._span_end(start)
        span, rest = self._entries[start:end], self._entries[:start] + self._entries[end:]
        for at in self._places(start, end, step):
            moved = rest[:at] + span + rest[at:]
            if _well_formed(moved, self._settings):
                self._entries = moved
                self.problem.clear()
                self._fill(at + 1)
                self.changed.emit()
                return

    def _span_end(self, start: int) -> int:
        """Where the entry at ``start`` ends, with what it holds."""
        entry = self._entries[start]
        if not isinstance(entry, Section | Column):
            return start + 1
        stops = (Section,) if isinstance(entry, Section) else (Section, Column)
        end = start + 1
        while end < len(self._entries) and not isinstance(self._entries[end], stops):
            end += 1
        return end

    def _places(self, start: int, end: int, step: int) -> list[int]:
        """Where (in the list without the moving entries) to try putting them, nearest first."""
        entry, entries = self._entries[start], self._entries
        if isinstance(entry, Section | Column):
            kinds = (Section,) if isinstance(entry, Section) else (Section, Column)
            if step < 0:
                before = [i for i in range(start) if isinstance(entries[i], kinds)]
                return before[-1:]
            if end == len(entries):
                return []
            after = entries[end]
            # Past the next column (with its blocks), or just inside the next section.
            skip = 1 if isinstance(entry, Column) and isinstance(after, Section) else None
            return [start + (skip or self._span_end(end) - end)]
        # A block goes one row at a time until it lands inside a column.
        if step < 0:
            return list(range(start - 1, -1, -1))
        return list(range(start + 1, len(entries)))

    def _insert(self, at: int, new: list[outline.Entry], chosen: int = -1) -> None:
        """Insert ``new`` at ``at`` and choose its ``chosen``-th entry (the last by default)."""
        self._entries[at:at] = new
        self.problem.clear()
        self._fill(at + 1 + (chosen % len(new)))
        self.changed.emit()

    def add_section(self, columns: int) -> None:
        """Add a section of ``columns`` columns after the chosen one's section (or at the end)."""
        at = self._next(Section)
        # Its first column is chosen, so the blocks added next go there.
        self._insert(at, [Section(columns=[]), *(Column() for _ in range(columns))], chosen=1)

    def add_block(self, block: Block) -> None:
        """Add ``block`` after the chosen entry (at the end of the message when none is)."""
        row = self.list.currentRow()
        if not self._entries:
            self._insert(0, [Section(columns=[]), Column(), block])
            return
        at = len(self._entries) if row <= 0 else row
        if at < len(self._entries) and isinstance(self._entries[at - 1], Section):
            at += 1  # after the section's first column's heading, not between them
        self._insert(at, [block])

    def _add_new(self, cls: type[Block]) -> None:
        self.add_block(cls())

    def _next(self, kind: type) -> int:
        row = self.list.currentRow()
        if row <= 0:
            return len(self._entries)
        return next(
            (i for i in range(row, len(self._entries)) if isinstance(self._entries[i], kind)),
            len(self._entries),
        )

    def remove(self) -> None:
        """Remove the chosen block; a section or column goes with what it holds."""
        row = self.list.currentRow()
        if row <= 0:
            return
        start = row - 1
        entry = self._entries[start]
        end = start + 1
        if isinstance(entry, Section | Column):
            stops = (Section,) if isinstance(entry, Section) else (Section, Column)
            while end < len(self._entries) and not isinstance(self._entries[end], stops):
                end += 1
        del self._entries[start:end]
        self._fill(min(row, len(self._entries)))
        self.changed.emit()

    def _edited(self) -> None:
        row = self.list.currentRow()
        if row > 0:
            self.list.item(row).setText(self._labels()[row - 1])
        self.changed.emit()


def _well_formed(listed: list[outline.Entry], settings: Design) -> bool:
    """Whether ``listed`` is a design as it stands: every section opens with a column (no
    block or empty section that the outline would give a new column)."""
    for entry, following in zip(listed, [*listed[1:], None], strict=True):
        if isinstance(entry, Section) and not isinstance(following, Column):
            return False
    try:
        outline.design(listed, settings)
    except DesignError:
        return False
    return True

"""What an empty page says: what to do first, and a button to do it, over the empty view."""

from __future__ import annotations

from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QEvent,
    QLabel,
    QObject,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
)

MAX_TEXT_WIDTH = 480


class EmptyState(QWidget):
    """A message laid over ``view`` while it has nothing to show; ``button`` does the first
    step (the page or the window connects it)."""

    def __init__(self, view: QAbstractItemView, text: str, action: str) -> None:
        # A child of the view's viewport, so the page's layout stays as it is.
        super().__init__(view.viewport())
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(action)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        view.viewport().installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Cover the whole viewport as it is resized."""
        if event.type() == QEvent.Type.Resize and isinstance(watched, QWidget):
            self._cover(watched)
        return False

    def _cover(self, viewport: QWidget) -> None:
        # The wrapped text's height for its width, set outright: left to the layout, the last
        # lines of rich text get cut.
        width = max(120, min(MAX_TEXT_WIDTH, viewport.width() - 24))
        self.label.setFixedWidth(width)
        self.label.setMinimumHeight(self.label.heightForWidth(width))
        self.setGeometry(viewport.rect())

    def set_shown(self, shown: bool) -> None:
        """Show the message (the view is empty) or hide it."""
        parent = self.parentWidget()
        if parent is not None:
            self._cover(parent)
        self.setVisible(shown)

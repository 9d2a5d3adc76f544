"""Transient notices ("Saved.", "Test sent to …"): one line that fades after a few seconds in
space kept for it, so neither showing nor clearing it moves the widgets around it."""

from __future__ import annotations

from mailfleet.desktop.ui.qt import QLabel, QSizePolicy, QTimer, QWidget

NOTICE_MS = 4000
LINES = 2


class Notice(QLabel):
    """A label of fixed height (``LINES`` lines, kept when empty). ``flash`` shows a notice
    that clears itself after ``NOTICE_MS``; ``setText`` shows a message that stays (an error
    the person must read), until the next one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("notice")
        self.setWordWrap(True)
        # Its width comes from the layout, never from its text, and its height is fixed.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().lineSpacing() * LINES + 4)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(NOTICE_MS)
        self.timer.timeout.connect(self.clear)

    def flash(self, text: str) -> None:
        """Show ``text`` for a few seconds (in the theme's colour for good news)."""
        self._show(text, transient=True)
        self.timer.start()

    def setText(self, text: str) -> None:
        """Show ``text`` until the next message (no timeout)."""
        self.timer.stop()
        self._show(text, transient=False)

    def _show(self, text: str, transient: bool) -> None:
        if self.property("transient") != transient:
            self.setProperty("transient", transient)
            # A stylesheet reads a dynamic property only when the widget is polished again.
            self.style().unpolish(self)
            self.style().polish(self)
        self.setToolTip(text)
        super().setText(text)

"""Pages that refresh by themselves: when the data under them changed (events applied from the
agents, an import) and, lightly, on a timer while they are shown.

Only the page in view is re-read, and a page that missed changes while hidden is re-read when
it is shown again, so nobody needs F5. Every re-read is the page's own refresh, which reads
through the task runner, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.desktop.ui.qt import QObject, QStackedWidget, QTimer, QWidget

# Events arrive every 250 ms during a campaign: re-read at most this often after a change.
SETTLE_MS = 2_000
# Whatever else changed the database (another desktop on a team database): this often.
IDLE_MS = 30_000


class AutoRefresh(QObject):
    """Keeps the shown page of ``stack`` fresh; ``pages`` maps a page to its re-read."""

    def __init__(
        self, stack: QStackedWidget, pages: dict[QWidget, Callable[[], None]], parent: QObject
    ) -> None:
        super().__init__(parent)
        self.stack = stack
        self.pages = pages
        self.stale: set[QWidget] = set()
        self.settle = QTimer(self)
        self.settle.setSingleShot(True)
        self.settle.setInterval(SETTLE_MS)
        self.settle.timeout.connect(self.refresh_shown)
        self.idle = QTimer(self)
        self.idle.setInterval(IDLE_MS)
        self.idle.timeout.connect(self.changed_now)
        self.idle.start()
        stack.currentChanged.connect(lambda _index: self.refresh_shown())

    def changed(self, *_what: object) -> None:
        """The data may have changed: every page is stale, the shown one re-read soon."""
        self.stale.update(self.pages)
        if not self.settle.isActive():
            self.settle.start()

    def changed_now(self) -> None:
        """The data may have changed: every page is stale, the shown one re-read now."""
        self.stale.update(self.pages)
        self.refresh_shown()

    def refresh_shown(self) -> None:
        """Re-read the page in view if it is stale (and the window is on screen)."""
        page = self.stack.currentWidget()
        if page in self.stale and page.isVisible():
            self.stale.discard(page)
            self.pages[page]()

"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, it runs on whichever thread allocates past the threshold, pool threads
included; collecting a Qt object (or a Python slot connected to one) there makes Qt take its
connection lock on that thread while the GUI thread, holding the interpreter lock, waits for the
same lock: the window hangs for good (seen in the tests, a pool thread in ``QObject::disconnect``
from a weakref callback of the collector). So automatic collection is off and a GUI-thread timer
collects each generation once it passes its usual threshold (the pattern of pyqtgraph and
calibre).
"""

from __future__ import annotations

import gc

from mailfleet.desktop.ui.qt import QCoreApplication, QObject, QTimer, Slot

# How often the GUI thread runs the garbage collector in place of Python's automatic one.
GC_INTERVAL_MS = 1000


class _GuiThreadCollector(QObject):
    """Collects garbage from a GUI-thread timer, with automatic collection turned off."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect)
        self.timer.start(GC_INTERVAL_MS)

    @Slot()
    def collect(self) -> None:
        """Collect the generations whose counts passed their thresholds, youngest first."""
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self.thresholds[generation]:
                return
            gc.collect(generation)


_collector: _GuiThreadCollector | None = None


def collect_on_gui_thread() -> None:
    """Move garbage collection to the GUI thread, once per application (the task runner does
    this when it is created)."""
    global _collector
    app = QCoreApplication.instance()
    if _collector is None and app is not None:
        _collector = _GuiThreadCollector(app)

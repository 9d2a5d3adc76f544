"""The wizard's send window: "only on these days, between these times" in the campaign's
time zone (the agents hold its mail outside it)."""

from __future__ import annotations

from mailfleet.desktop.services.send_windows import DAY_NAMES, WEEKDAYS, SendWindow
from mailfleet.desktop.ui.qt import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QTime,
    QTimeEdit,
    QWidget,
    Signal,
)


def _minutes(edit: QTimeEdit) -> int:
    time = edit.time()
    return time.hour() * 60 + time.minute()


class SendWindowBox(QWidget):
    """A tick box, the days of the week and the hours; ``changed`` on any edit."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.enabled = QCheckBox("Send only on")
        self.days: list[QCheckBox] = []
        for number, name in enumerate(DAY_NAMES, start=1):
            day = QCheckBox(name)
            day.setChecked(number in WEEKDAYS)
            day.toggled.connect(self._changed)
            self.days.append(day)
        self.start = QTimeEdit(QTime(8, 0))
        self.end = QTimeEdit(QTime(20, 0))
        for edit in (self.start, self.end):
            edit.setDisplayFormat("HH:mm")
            edit.timeChanged.connect(self._changed)
        self.enabled.toggled.connect(self._changed)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled)
        for day in self.days:
            row.addWidget(day)
        row.addWidget(QLabel("between"))
        row.addWidget(self.start)
        row.addWidget(QLabel("and"))
        row.addWidget(self.end)
        row.addStretch(1)
        self._changed()

    def _changed(self, *_: object) -> None:
        on = self.enabled.isChecked()
        for widget in (*self.days, self.start, self.end):
            widget.setEnabled(on)
        self.changed.emit()

    def send_window(self, time_zone: str) -> SendWindow | None:
        """The window as ticked, in ``time_zone``; None when any hour will do. 00:00 as the
        end is the end of the day."""
        if not self.enabled.isChecked():
            return None
        days = tuple(n for n, day in enumerate(self.days, start=1) if day.isChecked())
        return SendWindow(days, _minutes(self.start), _minutes(self.end) or 24 * 60, time_zone)

    def show_window(self, window: SendWindow | None) -> None:
        """Tick a saved draft's window (or none)."""
        self.enabled.setChecked(window is not None)
        if window is None:
            return
        for number, day in enumerate(self.days, start=1):
            day.setChecked(number in window.weekdays)
        self.start.setTime(QTime(window.start_minute // 60, window.start_minute % 60))
        end = window.end_minute % (24 * 60)
        self.end.setTime(QTime(end // 60, end % 60))

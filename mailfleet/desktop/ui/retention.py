"""Retention in the window: the marketer's setting, and the pruning pass at start and hourly.

The pass (``services.retention``) runs one small transaction per step on the runner's write
queue, so the window's own writes slip in between steps and a big campaign never holds the
database for long; the event followers write on their own threads beside it.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from mailfleet.desktop.services import retention
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.notice import Notice
from mailfleet.desktop.ui.qt import (
    QHBoxLayout,
    QLabel,
    QObject,
    QPushButton,
    QSpinBox,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from mailfleet.desktop.ui.tasks import TaskRunner

log = logging.getLogger("mailfleet.desktop.retention")
INTERVAL_MS = 60 * 60 * 1000


class RetentionPass(QObject):
    """Prunes old campaigns' per-recipient details, step by step, off the GUI thread."""

    # Some campaign's details were folded into totals: pages showing them may re-read.
    pruned = Signal()

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        parent: QObject | None = None,
        interval_ms: int = INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.running = False
        self._stopped = False
        self._changed = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.run)

    def start(self) -> None:
        """Run now, then every interval."""
        self.timer.start()
        self.run()

    def stop(self) -> None:
        """No further steps (the window is closing); a step under way finishes."""
        self._stopped = True
        self.timer.stop()

    def run(self) -> None:
        """Start a pass unless one is under way."""
        if self.running or self._stopped:
            return
        self.running = True
        self._changed = False
        self._step()

    def _step(self) -> None:
        ws = self.workspace_id
        self.runner.write(
            self.engine,
            "Tidying old campaign details",
            lambda conn: retention.prune_step(conn, ws),
            self._stepped,
            on_error=self._failed,
            audited=False,  # the app's own upkeep, nobody's action
        )

    def _stepped(self, step: retention.Step) -> None:
        if step.done or self._stopped:
            self.running = False
            if self._changed:
                self.pruned.emit()
            return
        self._changed = True
        self._step()

    def _failed(self, exc: Exception) -> None:
        # Tried again at the next interval; nothing is lost by waiting.
        self.running = False
        log.warning("pruning old campaign details stopped: %s", exc)


class RetentionSetting(QWidget):
    """ "Keep per-recipient details for N days; totals are kept for ever." for the workspace."""

    def __init__(
        self, engine: Engine, workspace_id: int, runner: TaskRunner, tidy: RetentionPass
    ) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.tidy = tidy
        self.days = QSpinBox()
        self.days.setAccessibleName("Days to keep recipient details")
        self.days.setRange(1, retention.MAX_DAYS)
        self.days.setEnabled(False)  # until the saved value has been read
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.saved = Notice()
        note = QLabel(
            "Who received, opened or clicked a campaign is deleted this many days after the "
            "campaign's last activity. Its figures on the dashboard and in analytics stay "
            "exactly as they were."
        )
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Keep per-recipient details for"))
        row.addWidget(self.days)
        row.addWidget(QLabel("days; totals are kept for ever."))
        row.addWidget(self.save_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(self.saved)
        ws = workspace_id
        runner.read(
            engine, "Reading settings", lambda c: retention.retention_days(c, ws), self._loaded
        )

    def _loaded(self, days: int) -> None:
        self.days.setValue(days)
        self.days.setEnabled(True)

    def save(self) -> None:
        """Save the number of days, then tidy at once by the new setting."""
        days, ws = self.days.value(), self.workspace_id

        def done(_: None) -> None:
            self.saved.flash(f"Saved: per-recipient details are kept {counted(days, 'day')}.")
            self.tidy.run()

        self.runner.write(
            self.engine,
            "Saving settings",
            lambda c: retention.set_retention_days(c, ws, days),
            done,
            on_error=self._not_saved,
        )

    def _not_saved(self, exc: Exception) -> None:
        if isinstance(exc, retention.RetentionError):
            self.saved.setText(f"Not saved: {explain(exc)}.")
            return
        log.warning("saving the retention setting failed: %s", exc)
        self.saved.setText("Not saved: the database could not be written. Try again.")

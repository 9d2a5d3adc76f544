"""The recipients of one campaign, by status: who bounced, who failed and why.

Read in the background (``stats.recipients``). Once retention has deleted a campaign's
per-recipient details, the dialog says so, and that the figures are kept, rather than showing
an empty list.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from mailfleet.desktop.db.models import RecipientStatus
from mailfleet.desktop.services import stats
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

SHOWN = 1000
# The statuses a marketer asks about, in the chooser's order.
STATUSES = (
    RecipientStatus.DELIVERED,
    RecipientStatus.CAPTURED,
    RecipientStatus.BOUNCED,
    RecipientStatus.FAILED,
    RecipientStatus.DEFERRED,
    RecipientStatus.PENDING,
    RecipientStatus.SUPPRESSED,
    RecipientStatus.REJECTED,
    RecipientStatus.CANCELLED,
    RecipientStatus.UNKNOWN,
)
_WORDS = {RecipientStatus.PENDING: "queued"}


def _word(status: RecipientStatus) -> str:
    return _WORDS.get(status, status.value)


def pruned_text(at: datetime, days: int | None = None) -> str:
    """What the marketer reads once a campaign's per-recipient details were deleted."""
    kept = f" (they are kept {counted(days, 'day')})" if days else ""
    return (
        f"Per-recipient details of this campaign were deleted on "
        f"{dates.show_date(at)}{kept}: who received, opened or clicked it is no longer "
        "known. Its figures are kept for ever."
    )


class RecipientsDialog(QDialog):
    """One campaign's recipients, filtered by status, the first ``SHOWN`` of them."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        campaign_id: int,
        title: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Recipients — {title}")
        self.resize(720, 480)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.campaign_id = campaign_id
        self._latest = Latest()
        self.status = QComboBox()
        self.status.addItem("All", None)
        for status in STATUSES:
            self.status.addItem(_word(status).capitalize(), status.value)
        self.status.currentIndexChanged.connect(lambda _i: self.refresh())
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Address", "Status", "Reason"])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.message = QLabel("Loading…")
        self.message.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.status)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addStretch(0)  # keeps the message at the top while the table is hidden
        self.refresh()

    def refresh(self) -> None:
        """Read the chosen recipients in the background."""
        chosen = self.status.currentData()
        status = RecipientStatus(chosen) if chosen else None
        ws, cid = self.workspace_id, self.campaign_id
        self.message.setText("Loading…")
        self.runner.read(
            self.engine,
            "Reading recipients",
            lambda c: stats.recipients(c, ws, cid, status, SHOWN),
            self._latest.only(self._show),
            on_error=lambda _e: self.message.setText("Could not read the recipients."),
        )

    def _show(self, found: stats.RecipientList) -> None:
        self.table.setRowCount(len(found.rows))
        for r, (email, status, reason) in enumerate(found.rows):
            for c, text in enumerate((email, _word(status), reason)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        self.table.setVisible(bool(found.rows))
        if found.pruned_at is not None and not found.held:
            self.message.setText(pruned_text(found.pruned_at))
        elif found.held > len(found.rows):
            self.message.setText(f"The first {len(found.rows):,} of {found.held:,} recipients.")
        else:
            self.message.setText(f"{counted(found.held, 'recipient')}.")

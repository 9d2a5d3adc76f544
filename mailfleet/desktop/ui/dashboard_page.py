"""The live dashboard: counts, a chart over time and deliverability per domain.

Fed by the agents' watch streams: each batch of events the followers apply triggers one
background re-read (at most every ``REFRESH_MS``), so a fast campaign never floods the GUI
thread; only finished figures cross to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents.eventsync import Applied
from mailfleet.desktop.db.models import CampaignState, RecipientStatus
from mailfleet.desktop.services import campaigns, chart_buckets, reasons, retention, stats
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates, theme
from mailfleet.desktop.ui.cards import FigureCard
from mailfleet.desktop.ui.domain_table import COMPLAINT_COLUMN, DOMAIN_COLUMNS, domain_cells
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QBrush,
    QChart,
    QChartView,
    QColor,
    QComboBox,
    QDateTime,
    QDateTimeAxis,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineSeries,
    QPainter,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QValueAxis,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.recipients_dialog import RecipientsDialog, pruned_text
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

TILES = (
    "queued",
    "delivered",
    "captured",
    "deferred",
    "bounced",
    "failed",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
)
CHARTED = (
    "delivered",
    "captured",
    "deferred",
    "bounced",
    "failed",
    "opened",
    "clicked",
    "complained",
)
# One colour per line: the chart's default palette repeats after five.
SERIES_COLOURS = {
    "delivered": "#1f77b4",
    "captured": "#7f7f7f",
    "deferred": "#ff7f0e",
    "bounced": "#9467bd",
    "failed": "#d62728",
    "opened": "#2ca02c",
    "clicked": "#17becf",
    "complained": "#8c564b",
}
TILE_TIPS = {
    "delivered": "Accepted by the recipients' mail servers",
    "captured": "Kept in an agent's capture mailbox: nothing left that machine",
    "failed": "Could not be sent; the reasons are listed under the figures",
}
REFRESH_MS = 500
CARDS_PER_ROW = 5


@dataclass(frozen=True)
class Figures:
    """Everything the dashboard shows, read in the background."""

    campaign_id: int | None
    campaigns: list[campaigns.CampaignRow]
    totals: stats.Totals
    domains: list[stats.DomainRow]
    timeline: dict[str, list[tuple[datetime, int]]]
    reasons: list[stats.Reason]
    # Campaigns whose per-recipient details retention deleted, and how long they are kept.
    pruned: dict[int, datetime]
    retention_days: int


def read_figures(conn: Connection, workspace_id: int, campaign_id: int | None) -> Figures:
    """The dashboard's figures for one campaign or all (blocking)."""
    return Figures(
        campaign_id,
        campaigns.list_campaigns(conn, workspace_id),
        stats.totals(conn, workspace_id, campaign_id),
        stats.per_domain(conn, workspace_id, campaign_id, limit=50),
        stats.timeline(conn, workspace_id, campaign_id),
        stats.failure_reasons(conn, workspace_id, campaign_id),
        retention.pruned_campaigns(conn, workspace_id),
        retention.retention_days(conn, workspace_id),
    )


class DashboardPage(QWidget):
    """Per campaign or overall; pause, resume and cancel act through the Campaigns page."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        control: Callable[[int, str], None],
        stalled: Callable[[], Mapping[int, tuple[str, ...]]] = dict,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.control = control
        # Campaigns whose last upload could not reach some agents (the Campaigns page knows).
        self.stalled = stalled
        self.figures: Figures | None = None
        self._reading = False
        self._again = False
        self._latest = Latest()

        self.campaign = QComboBox()
        self.campaign.currentIndexChanged.connect(lambda _i: self.refresh())
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        for button, action in (
            (self.pause_button, "pause"),
            (self.resume_button, "resume"),
            (self.cancel_button, "cancel"),
        ):
            button.clicked.connect(lambda _=False, a=action: self._act(a))
        self.recipients_button = QPushButton("Recipients…")
        self.recipients_button.setToolTip("Who received it, who bounced or failed and why")
        self.recipients_button.clicked.connect(self.open_recipients)
        self.tiles: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setSpacing(theme.SPACING)
        for i, name in enumerate(TILES):
            card = FigureCard(name.capitalize(), TILE_TIPS.get(name, ""))
            grid.addWidget(card, i // CARDS_PER_ROW, i % CARDS_PER_ROW)
            self.tiles[name] = card.value
        self.chart = QChart()
        self.chart.setTitle("Events per minute")
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(160)
        self.domains = QTableWidget(0, len(DOMAIN_COLUMNS))
        self.domains.setAccessibleName("Deliverability by domain")
        self.domains.setHorizontalHeaderLabels(list(DOMAIN_COLUMNS))
        self.domains.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.domains.setToolTip("Complaint rates over Gmail's 0.3 % line are shown in red.")
        self.updated = QLabel("Loading…")
        # What capture and failures mean, shown only when there are any.
        self.captured_note = QLabel("")
        self.captured_note.setWordWrap(True)
        # What the campaign waits for (an agent that could not be reached), with Retry.
        self.waiting = QLabel("")
        self.waiting.setWordWrap(True)
        self.retry_button = QPushButton("Retry now")
        self.retry_button.clicked.connect(lambda _=False: self._act("retry"))
        self.waiting_box = QWidget()
        waiting_row = QHBoxLayout(self.waiting_box)
        waiting_row.setContentsMargins(0, 0, 0, 0)
        waiting_row.addWidget(self.waiting, 1)
        waiting_row.addWidget(self.retry_button)
        self.waiting_box.hide()
        self.reasons = QLabel("")
        self.reasons.setWordWrap(True)
        self.reasons.setTextFormat(Qt.TextFormat.PlainText)

        top = QHBoxLayout()
        top.addWidget(QLabel("<h2>Dashboard</h2>"))
        top.addWidget(self.campaign, 1)
        top.addWidget(self.recipients_button)
        top.addWidget(self.pause_button)
        top.addWidget(self.resume_button)
        top.addSpacing(48)  # away from Resume: cancelling cannot be undone
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.waiting_box)
        layout.addLayout(grid)
        layout.addWidget(self.captured_note)
        layout.addWidget(self.reasons)
        layout.addWidget(self.chart_view, 2)
        layout.addWidget(self.domains, 1)
        layout.addWidget(self.updated)

        self.pending = QTimer(self)
        self.pending.setSingleShot(True)
        self.pending.setInterval(REFRESH_MS)
        self.pending.timeout.connect(self.refresh)
        self.reload_campaigns()

    def reload_campaigns(self, select: int | None = None) -> None:
        """Refill the campaign chooser ("All campaigns" first) from the database, in the
        background, then the figures."""
        current = select if select is not None else self.campaign.currentData()
        ws = self.workspace_id
        self.runner.read(
            self.engine,
            "Reading campaigns",
            lambda c: campaigns.list_campaigns(c, ws),
            self._latest.only(lambda rows: self._fill_chooser(rows, current)),
        )

    def _fill_chooser(self, rows: list[campaigns.CampaignRow], current: int | None) -> None:
        self.campaign.blockSignals(True)
        self.campaign.clear()
        self.campaign.addItem("All campaigns", None)
        for row in rows:
            self.campaign.addItem(f"{row.name} — {campaigns.state_text(row)}", row.id)
        index = self.campaign.findData(current) if current is not None else 0
        self.campaign.setCurrentIndex(max(index, 0))
        self.campaign.blockSignals(False)
        self.refresh()

    def show_campaign(self, campaign_id: int) -> None:
        """Switch to one campaign."""
        self.reload_campaigns(select=campaign_id)

    def events_applied(self, applied: object) -> None:
        """New events reached the database: re-read soon (coalesced)."""
        assert isinstance(applied, Applied)
        chosen = self.campaign.currentData()
        if (chosen is None or chosen in applied.campaigns) and not self.pending.isActive():
            self.pending.start()

    def refresh(self) -> None:
        """Re-read the figures in the background; one read at a time."""
        if self._reading:
            self._again = True
            return
        self._reading = True
        campaign_id, ws = self.campaign.currentData(), self.workspace_id

        def failed(exc: Exception) -> None:
            self._reading = False
            self.updated.setText(f"Could not read the figures: {explain(exc)}")

        self.runner.read(
            self.engine,
            "Reading campaign figures",
            lambda c: read_figures(c, ws, campaign_id),
            self._show,
            on_error=failed,
        )

    def _show(self, figures: Figures) -> None:
        self._reading = False
        if self._again:
            self._again = False
            self.refresh()
        self.figures = figures
        labels = {row.id: f"{row.name} — {campaigns.state_text(row)}" for row in figures.campaigns}
        for index in range(1, self.campaign.count()):
            text = labels.get(self.campaign.itemData(index))
            if text is not None and text != self.campaign.itemText(index):
                self.campaign.setItemText(index, text)
        counts = figures.totals.as_dict()
        for name, label in self.tiles.items():
            label.setText(f"{counts[name]:,}")
        captured = figures.totals.captured
        self.captured_note.setVisible(bool(captured))
        self.captured_note.setText(
            f"{captured:,} captured — nothing left this machine: the agents kept "
            f"{'it' if captured == 1 else 'them'} in their capture mailbox (Agents ▸ Captured "
            "mail…). Captured mail is not counted as delivered."
        )
        unknown = figures.totals.unknown
        lost = (
            f"{counted(unknown, 'recipient')}: outcome unknown — "
            "the agent deleted its records of them before this computer read them."
            if unknown
            else ""
        )
        why, replies = _reasons_text(figures.reasons)
        text = "\n".join(t for t in (why, lost, _pruned_text(figures)) if t)
        self.reasons.setVisible(bool(text))
        self.reasons.setText(text)
        self.reasons.setToolTip(replies)
        self.draw_chart(figures.timeline)
        self._domains(figures.domains)
        shown = next((r for r in figures.campaigns if r.id == figures.campaign_id), None)
        allowed = (
            campaigns.allowed_actions(shown.state, shown.command)
            if shown is not None
            else frozenset()
        )
        self.recipients_button.setEnabled(shown is not None)
        for action, button in (
            ("pause", self.pause_button),
            ("resume", self.resume_button),
            ("cancel", self.cancel_button),
        ):
            button.setEnabled(action in allowed)
        waiting = _waiting_text(shown, self.stalled()) if shown is not None else ""
        self.waiting.setText(waiting)
        self.waiting_box.setVisible(bool(waiting))
        self.retry_button.setEnabled(bool(waiting) and "retry" in allowed)
        self.updated.setText(
            f"{counted(figures.totals.recipients, 'recipient')} · updated "
            f"{dates.show_time(datetime.now(UTC), seconds=True)}"
        )

    def restyle(self) -> None:
        """Redraw the chart in the current theme's colours."""
        if self.figures is not None:
            self.draw_chart(self.figures.timeline)

    def draw_chart(self, timeline: dict[str, list[tuple[datetime, int]]]) -> None:
        """Each kind as steps over zero-filled buckets: a quiet minute shows as zero, never
        as a slope between its neighbours."""
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        buckets = chart_buckets.zero_filled(timeline, CHARTED)
        if buckets is None:
            # No axes on an empty chart: they could only repeat 0.
            self.chart.setTitle("Events per minute: none yet")
            theme.style_chart(self.chart)
            return
        self.chart.setTitle(f"Events per {chart_buckets.width_text(buckets.width)}")
        span = chart_buckets.time_scale(buckets.size)
        scale = chart_buckets.value_scale(buckets.top)
        x_axis = QDateTimeAxis()
        x_axis.setFormat(dates.time_format() if span.buckets * buckets.width <= timedelta(days=1)
                         else dates.date_time_format())  # fmt: skip
        x_axis.setTickCount(span.ticks)
        y_axis = QValueAxis()
        y_axis.setLabelFormat("%d")
        y_axis.setRange(0, scale.top)
        y_axis.setTickCount(scale.ticks)
        self.chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        width_ms = buckets.width.total_seconds() * 1000
        for kind in CHARTED:
            series = QLineSeries()
            series.setName(kind)
            pen = series.pen()
            pen.setColor(QColor(SERIES_COLOURS[kind]))
            pen.setWidth(2)
            series.setPen(pen)
            for start, count in zip(buckets.starts(), buckets.counts[kind], strict=True):
                at = start.timestamp() * 1000
                series.append(at, count)
                series.append(at + width_ms, count)
            self.chart.addSeries(series)
            series.attachAxis(x_axis)
            series.attachAxis(y_axis)
        first = int(buckets.start.timestamp())
        x_axis.setRange(
            QDateTime.fromSecsSinceEpoch(first),
            QDateTime.fromSecsSinceEpoch(first + int(span.buckets * buckets.width.total_seconds())),
        )
        theme.style_chart(self.chart)

    def _domains(self, rows: list[stats.DomainRow]) -> None:
        self.domains.setRowCount(len(rows))
        for r, d in enumerate(rows):
            for c, text in enumerate(domain_cells(d)):
                item = QTableWidgetItem(text)
                if c >= 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if c == COMPLAINT_COLUMN and d.over_complaint_line:
                    item.setForeground(QBrush(QColor(theme.current().danger)))
                    item.setToolTip("Over Gmail's 0.3 % complaint line")
                self.domains.setItem(r, c, item)

    def open_recipients(self) -> RecipientsDialog | None:
        """Show the chosen campaign's recipients (non-modal)."""
        campaign_id = self.campaign.currentData()
        if campaign_id is None:
            return None
        title = self.campaign.currentText()
        dialog = RecipientsDialog(self.engine, self.workspace_id, self.runner, campaign_id, title,
                                  self)  # fmt: skip
        dialog.show()
        return dialog

    def _act(self, action: str) -> None:
        campaign_id = self.campaign.currentData()
        if campaign_id is not None:
            self.control(campaign_id, action)


def _waiting_text(row: campaigns.CampaignRow, stalled: Mapping[int, tuple[str, ...]]) -> str:
    """Why the campaign waits, in plain words, or "" when it waits for nothing."""
    if row.command is not None and row.waiting_for:
        names = campaigns.names_text(row.waiting_for)
        it, is_, has = ("it", "is", "has") if len(row.waiting_for) == 1 else ("they", "are", "have")
        meanwhile = "stay paused" if it == "they" else "stays paused"
        if row.command != "resume":
            meanwhile = "may go on sending"
        return (
            f"Waiting for {names}: {it} {has} not taken the {row.command} yet, because {it} "
            f"could not be reached. {it.capitalize()} {is_} told as soon as {it} {is_} back; "
            f"until then {it} {meanwhile}."
        )
    names_stalled = stalled.get(row.id, ())
    if row.state is CampaignState.UPLOADING and names_stalled:
        names = campaigns.names_text(names_stalled)
        one = len(names_stalled) == 1
        return (
            f"Waiting for {names}: {'it' if one else 'they'} could not be reached, so "
            f"{'its' if one else 'their'} recipients are not uploaded yet and the campaign is "
            f"not sending there. The upload continues by itself when "
            f"{'it is' if one else 'they are'} back."
        )
    return ""


def _reasons_text(found: list[stats.Reason]) -> tuple[str, str]:
    """One plain line per reason ("Bounced (2): The address does not exist at that
    provider."), and the servers' own replies behind them for the tooltip."""
    summaries = reasons.summarise((_OUTCOME[r.status], r.reason, r.count) for r in found)
    if not summaries:
        return "", ""
    lines = [f"{s.outcome} ({s.count:,}): {s.sentence}" for s in summaries]
    replies = [
        f"{s.outcome} ({n:,}): {original}"
        for s in summaries
        for original, n in s.originals
        if original
    ]
    tip = "What the servers and agents said:\n" + "\n".join(replies) if replies else ""
    return "Why messages did not arrive:\n" + "\n".join(lines), tip


_OUTCOME = {RecipientStatus.FAILED: "Failed", RecipientStatus.BOUNCED: "Bounced"}


def _pruned_text(figures: Figures) -> str:
    """Whether the figures shown come from deleted per-recipient details."""
    if figures.campaign_id is None:
        n = len(figures.pruned)
        if not n:
            return ""
        return (
            f"Per-recipient details of {counted(n, 'older campaign')} were deleted after "
            f"{counted(figures.retention_days, 'day')}; their figures are kept."
        )
    at = figures.pruned.get(figures.campaign_id)
    return "" if at is None else pruned_text(at, figures.retention_days)

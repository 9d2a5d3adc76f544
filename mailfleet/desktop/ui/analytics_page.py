"""The Analytics page: campaigns side by side, daily trends and deliverability per domain, each
exportable as CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine

from mailfleet.desktop.db.models import RecipientStatus
from mailfleet.desktop.services import analytics_export, chart_buckets, reasons, stats
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import dates, theme
from mailfleet.desktop.ui.domain_table import COMPLAINT_COLUMN, DOMAIN_COLUMNS, domain_cells
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QBrush,
    QChart,
    QChartView,
    QColor,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPainter,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QValueAxis,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

COMPARE_COLUMNS = (
    "Campaign",
    "State",
    "Created",
    "Recipients",
    "Delivered",
    "Captured",
    "Failed",
    "Bounce rate",
    "Complaint rate",
    "Open rate",
    "Click rate",
    "Unsubscribe rate",
)
TREND_KINDS = ("delivered", "bounced", "opened", "clicked")
REASON_COLUMNS = ("Outcome", "Why", "Recipients", "What the server said")
_OUTCOME = {RecipientStatus.FAILED: "Failed", RecipientStatus.BOUNCED: "Bounced"}


@dataclass(frozen=True)
class Analytics:
    """Everything the page shows."""

    campaigns: list[stats.CampaignFigures]
    trend: dict[str, list[tuple[datetime, int]]]
    domains: list[stats.DomainRow]
    reasons: list[stats.Reason]


def read_analytics(conn: Connection, workspace_id: int) -> Analytics:
    """All the page's figures (blocking)."""
    return Analytics(
        stats.compare(conn, workspace_id),
        stats.daily_trend(conn, workspace_id),
        stats.per_domain(conn, workspace_id, None, limit=200),
        stats.failure_reasons(conn, workspace_id, None, limit=200),
    )


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]], red: set[tuple[int, int]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if (r, c) in red:
                item.setForeground(QBrush(QColor(theme.current().danger)))
            table.setItem(r, c, item)
    table.resizeColumnsToContents()


class AnalyticsPage(QWidget):
    """Comparison, trends and deliverability with CSV export."""

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.data: Analytics | None = None
        self._latest = Latest()
        self.compare = _table(COMPARE_COLUMNS, "Campaign comparison")
        self.domains = _table(DOMAIN_COLUMNS, "Deliverability by domain")
        self.reasons = _table(REASON_COLUMNS, "Why messages did not arrive")
        self.chart = QChart()
        self.chart.setTitle("Per day, all campaigns")
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.compare, "Campaign comparison")
        self.tabs.addTab(self.chart_view, "Trends")
        self.tabs.addTab(self.domains, "Deliverability by domain")
        self.tabs.addTab(self.reasons, "Why messages did not arrive")
        export = QPushButton("Export as CSV…")
        export.clicked.connect(self.ask_export)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.message = QLabel("")
        top = QHBoxLayout()
        top.addWidget(QLabel("<h2>Analytics</h2>"), 1)
        top.addWidget(refresh)
        top.addWidget(export)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)

    def refresh(self) -> None:
        """Re-read every figure in the background."""
        ws = self.workspace_id
        self.runner.read(self.engine, "Reading analytics", lambda c: read_analytics(c, ws),
                         self._latest.only(self._show),
                         on_error=lambda e: self.message.setText(explain(e)))  # fmt: skip

    def showEvent(self, event: object) -> None:
        """Fresh figures whenever the page is shown."""
        self.refresh()
        super().showEvent(event)  # type: ignore[arg-type]

    def _show(self, data: Analytics) -> None:
        self.data = data
        rows, red = [], set()
        for r, c in enumerate(data.campaigns):
            t = c.totals
            complaint = c.rate("complained")
            if complaint > stats.COMPLAINT_LINE:
                red.add((r, 8))
            rows.append(
                (
                    c.name,
                    c.state,
                    dates.show_date(c.created_at),
                    f"{t.recipients:,}",
                    f"{t.delivered:,}",
                    f"{t.captured:,}",
                    f"{t.failed:,}",
                    f"{t.bounced / max(t.delivered + t.bounced, 1):.2%}",
                    f"{complaint:.2%}",
                    f"{c.rate('opened'):.1%}",
                    f"{c.rate('clicked'):.1%}",
                    f"{c.rate('unsubscribed'):.2%}",
                )
            )
        _fill(self.compare, rows, red)
        drows = [domain_cells(d) for d in data.domains]
        dred = {(r, COMPLAINT_COLUMN) for r, d in enumerate(data.domains) if d.over_complaint_line}
        _fill(self.domains, drows, dred)
        self._reasons(data.reasons)
        self._trend(data.trend)
        self.message.setText(f"{counted(len(data.campaigns), 'campaign')}.")

    def _reasons(self, found: list[stats.Reason]) -> None:
        summaries = reasons.summarise((_OUTCOME[r.status], r.reason, r.count) for r in found)
        rows = [
            (s.outcome, s.sentence, f"{s.count:,}", s.originals[0][0] if s.originals else "")
            for s in summaries
        ]
        _fill(self.reasons, rows, set())
        for r, summary in enumerate(summaries):
            replies = "\n".join(f"{text} ({n:,})" for text, n in summary.originals if text)
            for c in (1, 3):
                item = self.reasons.item(r, c)
                if item is not None:
                    item.setToolTip(replies)

    def restyle(self) -> None:
        """Redraw the chart in the current theme's colours."""
        if self.data is not None:
            self._trend(self.data.trend)

    def _trend(self, trend: dict[str, list[tuple[datetime, int]]]) -> None:
        """A bar per kind and day, days without events as zero bars (none left out)."""
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        buckets = chart_buckets.zero_filled(trend, TREND_KINDS, width=timedelta(days=1))
        self.chart.setTitle("Per day, all campaigns" if buckets else "Per day: nothing sent yet")
        if buckets is not None:
            series = QBarSeries()
            for kind in TREND_KINDS:
                bar = QBarSet(kind)
                bar.append([float(n) for n in buckets.counts[kind]])
                series.append(bar)
            self.chart.addSeries(series)
            x_axis = QBarCategoryAxis()
            x_axis.append([dates.show_day(d) for d in buckets.starts()])
            scale = chart_buckets.value_scale(buckets.top)
            y_axis = QValueAxis()
            y_axis.setRange(0, scale.top)
            y_axis.setTickCount(scale.ticks)
            y_axis.setLabelFormat("%d")
            self.chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
            self.chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
            series.attachAxis(x_axis)
            series.attachAxis(y_axis)
        theme.style_chart(self.chart)

    def ask_export(self) -> None:
        """Ask where to save the open tab as CSV."""
        path, _ = QFileDialog.getSaveFileName(self, "Export as CSV", "analytics.csv", "CSV (*.csv)")
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> int:
        """Write the open tab's figures, as shown, to ``path``; returns the rows written."""
        if self.data is None:
            self.message.setText("The figures are still loading: export them once they show.")
            return 0
        which = ("campaigns", "trend", "domains")[self.tabs.currentIndex()]
        count = analytics_export.write(
            self.data.campaigns, self.data.trend, self.data.domains, which, path
        )
        self.message.setText(f"Exported {counted(count, 'row')} to {path}.")
        return count

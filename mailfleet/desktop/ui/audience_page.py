"""The audience overview: contacts today by status (cards), and per week or month who came (by
how they came, or by the status they have today), who left and why, and the growth and churn
that follow (``services/audience.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from mailfleet.desktop.db.models import ContactStatus
from mailfleet.desktop.services import audience, chart_buckets, contacts
from mailfleet.desktop.services.audience import Overview
from mailfleet.desktop.ui import dates, theme
from mailfleet.desktop.ui.cards import FigureCard
from mailfleet.desktop.ui.qt import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QColor,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPainter,
    QPushButton,
    QScrollArea,
    QShowEvent,
    QStackedBarSeries,
    QStackedWidget,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QValueAxis,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

PERIOD_CHOICES = (("Per week", "week"), ("Per month", "month"))
SPLIT_CHOICES = (("By how they came", "source"), ("By today's status", "status"))
SOURCE_LABELS = {"import": "Imported", "signup form": "Signup form",
                 "by hand": "Added by hand", "other": "Other"}  # fmt: skip
LEFT_LABELS = {"unsubscribed": "Unsubscribed", "bounced": "Bounced", "complained": "Complained"}
STATUS_CARDS = tuple(ContactStatus)
CHART_TITLES = {
    ("new", "week"): "New contacts per week",
    ("new", "month"): "New contacts per month",
    ("left", "week"): "Contacts who left per week",
    ("left", "month"): "Contacts who left per month",
}
EMPTY_TITLES = {
    ("new", "week"): "New contacts per week: none in these weeks",
    ("new", "month"): "New contacts per month: none in these months",
    ("left", "week"): "Contacts who left per week: nobody in these weeks",
    ("left", "month"): "Contacts who left per month: nobody in these months",
}
NUMBER_ALIGNMENT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
PERIOD_HEADERS = {"week": "Week of", "month": "Month"}
GROWTH_COLUMNS = ("Week of", "Audience at start", "New", "Left", "Net change", "Churn")
EMPTY_WIDTH = 480
NO_CONTACTS = (
    "<h3>Nobody in your audience yet</h3><p>Import your contacts from a CSV file, or publish "
    "a signup form on your website. This page then shows how your audience grows: who joined "
    "each week, how, and who left.</p>"
)


def status_label(status: str) -> str:
    """A status as a card's caption: "Pending confirmation"."""
    return contacts.status_text(status).capitalize()


class AudiencePage(QWidget):
    """Contacts by status today, growth and churn over time; ``import_wanted`` is the empty
    state's button (the window connects it to the import wizard)."""

    def __init__(self, engine: Engine, workspace_id: int, runner: TaskRunner) -> None:
        super().__init__()
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.overview: Overview | None = None
        self._latest = Latest()
        self.period = QComboBox()
        self.period.setAccessibleName("Period")
        self.split = QComboBox()
        self.split.setAccessibleName("Split new contacts")
        for combo, choices in ((self.period, PERIOD_CHOICES), (self.split, SPLIT_CHOICES)):
            for text, data in choices:
                combo.addItem(text, data)
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        self.split.currentIndexChanged.connect(lambda _i: self._draw())
        self.status = QLabel("Loading…")
        top = QHBoxLayout()
        top.addWidget(QLabel("<h2>Audience overview</h2>"), 1)
        top.addWidget(self.status)
        top.addWidget(self.period)
        top.addWidget(self.split)

        self.cards: dict[str, FigureCard] = {}
        grid = QGridLayout()
        grid.setSpacing(theme.SPACING)
        for i, name in enumerate(("total", *(s.value for s in STATUS_CARDS))):
            caption = "Contacts" if name == "total" else status_label(name)
            self.cards[name] = FigureCard(caption)
            grid.addWidget(self.cards[name], 0, i)
        self.new_chart, self.new_view = self._chart("New contacts")
        self.left_chart, self.left_view = self._chart("Contacts who left")
        self.growth = QTableWidget(0, len(GROWTH_COLUMNS))
        self.growth.setAccessibleName("Growth and churn per period")
        self.growth.setHorizontalHeaderLabels(list(GROWTH_COLUMNS))
        self.growth.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.growth.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.growth.setMinimumHeight(240)

        # Each chart as wide as the page, so every period's label fits under its bar; the
        # page scrolls on a small screen.
        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(0, 0, theme.SPACING, 0)
        body.addLayout(grid)
        body.addWidget(self.new_view)
        body.addWidget(self.left_view)
        body.addWidget(self.growth)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        self.empty_text = QLabel(NO_CONTACTS)
        self.empty_text.setWordWrap(True)
        self.empty_text.setTextFormat(Qt.TextFormat.RichText)
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text.setFixedWidth(EMPTY_WIDTH)
        self.import_button = QPushButton("Import contacts…")
        empty = QWidget()
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_text, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addStretch(2)
        self.body = QStackedWidget()
        self.body.addWidget(scroll)
        self.body.addWidget(empty)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)

    def _chart(self, name: str) -> tuple[QChart, QChartView]:
        chart = QChart()
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        view = QChartView(chart)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(240)
        view.setAccessibleName(name)
        return chart, view

    @property
    def is_empty(self) -> bool:
        """Whether the page shows its empty state (the workspace has no contacts)."""
        return self.body.currentIndex() == 1

    def refresh(self) -> None:
        """Re-read the figures in the background."""
        ws, period = self.workspace_id, str(self.period.currentData())
        self.status.setText("Loading…")
        self.runner.read(self.engine, "Reading the audience",
                         lambda c: audience.read(c, ws, period), self._latest.only(self._show),
                         on_error=lambda _e: self.status.setText(
                             "The figures could not be read. Press F5 to try again."))  # fmt: skip

    def showEvent(self, event: QShowEvent) -> None:
        """Fresh figures whenever the page is shown."""
        # The wrapped text's height for its width, set outright: left to the layout, the last
        # lines of rich text get cut (as in ui/empty_state.py). Measured here, once the
        # window's style has given the label its font: measured before, it came out short.
        self.empty_text.setMinimumHeight(self.empty_text.heightForWidth(EMPTY_WIDTH))
        self.refresh()
        super().showEvent(event)

    def _show(self, overview: Overview) -> None:
        self.overview = overview
        self.status.setText("")
        self.cards["total"].value.setText(f"{overview.total:,}")
        for status, n in overview.statuses.items():
            self.cards[status].value.setText(f"{n:,}")
        self.body.setCurrentIndex(1 if overview.total == 0 else 0)
        self._draw()

    def restyle(self) -> None:
        """Redraw the charts in the current theme's colours."""
        self._draw()

    @staticmethod
    def _labels(overview: Overview, short: bool) -> list[str]:
        """Each period's name: the Monday of a week ("7 Dec", with its year in the table), or
        the month ("Dec 2026")."""
        if overview.period == "month":
            return [dates.show_month(start) for start in overview.starts]
        show = dates.show_short_day if short else dates.show_day
        return [show(start) for start in overview.starts]

    def _draw(self) -> None:
        overview = self.overview
        if overview is None:
            return
        labels = self._labels(overview, short=True)
        if self.split.currentData() == "status":
            new = [(status_label(s), v) for s, v in overview.new_by_status.items()]
        else:
            new = [(SOURCE_LABELS[s], v) for s, v in overview.new_by_source.items()]
        left = [(LEFT_LABELS[r], v) for r, v in overview.left_by_reason.items()]
        self._bars(self.new_chart, ("new", overview.period), labels, new)
        self._bars(self.left_chart, ("left", overview.period), labels, left)
        self._growth(overview, self._labels(overview, short=False))

    def _bars(self, chart: QChart, which: tuple[str, str], labels: list[str],
              rows: Sequence[tuple[str, list[int]]]) -> None:  # fmt: skip
        """Stacked bars, one per period, every period shown (zero when nothing happened);
        a chart with nothing in it has no axes and says so in its title."""
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        tops = [sum(column) for column in zip(*(values for _, values in rows), strict=True)]
        top = max(tops, default=0)
        chart.setTitle(CHART_TITLES[which] if top else EMPTY_TITLES[which])
        if top:
            colours = theme.series_colours(theme.current())
            series = QStackedBarSeries()
            for (name, values), colour in zip(rows, colours, strict=False):
                bar = QBarSet(name)
                bar.setColor(QColor(colour))
                bar.setBorderColor(QColor(colour))
                bar.append([float(n) for n in values])
                series.append(bar)
            chart.addSeries(series)
            x_axis = QBarCategoryAxis()
            x_axis.append(labels)
            font = x_axis.labelsFont()
            font.setPixelSize(theme.SMALL_PX)
            x_axis.setLabelsFont(font)
            scale = chart_buckets.value_scale(top)
            y_axis = QValueAxis()
            y_axis.setRange(0, scale.top)
            y_axis.setTickCount(scale.ticks)
            y_axis.setLabelFormat("%d")
            chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
            chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
            series.attachAxis(x_axis)
            series.attachAxis(y_axis)
        theme.style_chart(chart)

    def _growth(self, overview: Overview, labels: list[str]) -> None:
        """Newest period first: its audience at the start, who came, who left, the net
        change and the churn (who left as a share of the audience at the start)."""
        rows = list(zip(labels, overview.audience_at_start(), overview.new(), overview.left(),
                        overview.churn(), strict=True))[::-1]  # fmt: skip
        self.growth.setRowCount(len(rows))
        self.growth.setHorizontalHeaderItem(0, QTableWidgetItem(PERIOD_HEADERS[overview.period]))
        for r, (label, start, came, went, churn) in enumerate(rows):
            net = came - went
            rate = "—" if churn is None else f"{churn:.1%}"
            cells = (label, f"{start:,}", f"{came:,}", f"{went:,}", f"{net:+,}" if net else "0",
                     rate)  # fmt: skip
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:  # figures line up on the right
                    item.setTextAlignment(NUMBER_ALIGNMENT)
                self.growth.setItem(r, c, item)

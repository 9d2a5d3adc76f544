"""The audience overview page (issue 24): an empty workspace says what to do; with contacts it
shows today's statuses as cards, one stacked bar per week (quiet weeks as zero, none left out),
growth and churn; screenshots in both themes under tests/artifacts/desktop/audience-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.db.models import SuppressionReason
from mailfleet.desktop.services import audience, suppression
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.import_wizard import ImportWizard
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import QBarCategoryAxis, QStackedBarSeries, QValueAxis
from tests.desktop.importing import import_file, plan_for, write_csv


def _window(qtbot: QtBot, engine: Engine, settings: Any) -> MainWindow:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    window = MainWindow(engine, ws, "Default", settings)
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    return window


def test_an_empty_audience_says_how_to_start(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    window = _window(qtbot, sqlite_engine, qsettings)
    window.go("Audience overview")
    page = window.audience
    qtbot.waitUntil(lambda: page.overview is not None)
    assert page.is_empty
    assert "Import your contacts" in page.empty_text.text()
    assert page.import_button.isVisible()
    qtbot.wait(50)
    window.grab().save(str(artifacts / "audience-empty.png"))
    page.import_button.click()
    qtbot.waitUntil(lambda: any(w.isVisible() for w in window.findChildren(ImportWizard)))


def test_the_overview_counts_who_came_and_left_per_week(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path, tmp_path: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    rows = [["email"]] + [[f"p{i}@example.com"] for i in range(12)]
    import_file(sqlite_engine, plan_for(write_csv(tmp_path / "a.csv", rows), ws, ("email",)))
    with sqlite_engine.begin() as conn:
        suppression.add(conn, ws, "p0@example.com", SuppressionReason.UNSUBSCRIBED)
        suppression.add(conn, ws, "p1@example.com", SuppressionReason.BOUNCED)
    window = _window(qtbot, sqlite_engine, qsettings)
    window.go("Audience overview")
    page = window.audience
    qtbot.waitUntil(lambda: page.overview is not None)
    assert not page.is_empty
    assert page.cards["total"].value.text() == "12"
    assert page.cards["subscribed"].value.text() == "10"
    assert page.cards["unsubscribed"].value.text() == "1"
    assert page.cards["bounced"].value.text() == "1"
    weeks = audience.SHOWN["week"]
    (series,) = page.new_chart.series()
    assert isinstance(series, QStackedBarSeries)
    # Every week has a bar, the quiet ones at zero: nothing is joined across them.
    sets = {bar.label(): [bar.at(i) for i in range(bar.count())] for bar in series.barSets()}
    assert all(len(values) == weeks for values in sets.values())
    assert sets["Imported"] == [0.0] * (weeks - 1) + [12.0]
    (x_axis,) = (a for a in page.new_chart.axes() if isinstance(a, QBarCategoryAxis))
    assert len(set(x_axis.categories())) == weeks  # no label twice
    (y_axis,) = (a for a in page.new_chart.axes() if isinstance(a, QValueAxis))
    assert (y_axis.max(), y_axis.tickCount()) == (15, 4)  # 0 5 10 15
    (left,) = page.left_chart.series()
    assert isinstance(left, QStackedBarSeries)
    assert {b.label(): b.at(weeks - 1) for b in left.barSets()} == {
        "Unsubscribed": 1.0, "Bounced": 1.0, "Complained": 0.0}  # fmt: skip
    # Newest week first: nobody before it, 12 came, 2 left.
    newest = [page.growth.item(0, c) for c in range(6)]
    assert [item.text() for item in newest if item is not None][1:] == ["0", "12", "2", "+10", "—"]
    page.split.setCurrentIndex(page.split.findData("status"))
    (series,) = page.new_chart.series()
    assert isinstance(series, QStackedBarSeries)
    by_status = {bar.label(): bar.at(weeks - 1) for bar in series.barSets()}
    assert by_status["Subscribed"] == 10.0 and by_status["Unsubscribed"] == 1.0
    page.period.setCurrentIndex(page.period.findData("month"))
    qtbot.waitUntil(lambda: page.overview is not None and page.overview.period == "month")
    assert "per month" in page.new_chart.title()
    assert page.left_chart.title() == "Contacts who left per month"
    page.split.setCurrentIndex(0)
    page.period.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.overview is not None and page.overview.period == "week")
    for choice in ("light", "dark"):
        window.theme.choose(choice)
        qtbot.wait(150)
        window.grab().save(str(artifacts / f"audience-{choice}.png"))
    window.theme.choose("light")

"""The visual system (issue 24): light and dark theme that persists, the sidebar's sections and
icons, honest charts, no row-number column, notices that move nothing; screenshots of every
main screen in both themes under tests/artifacts/desktop/look-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QTableView as QtTableView
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui import theme
from mailfleet.desktop.ui.main_window import PAGES, MainWindow
from mailfleet.desktop.ui.qt import QLineSeries, QPalette, QValueAxis, QWidget

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def make_window(qtbot: QtBot, engine: Engine, settings: Any) -> MainWindow:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    window = MainWindow(engine, ws, "Default", settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.contacts.count_label.text().endswith("contacts"))
    return window


def background_lightness(widget: QWidget) -> int:
    return widget.palette().color(QPalette.ColorRole.Window).lightness()


def test_theme_switch_recolours_the_window_and_is_remembered(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    assert not window.windowIcon().isNull()
    window.theme_actions["dark"].trigger()
    assert window.theme.choice == "dark"
    assert background_lightness(window) < 60
    assert background_lightness(window.contacts) < 60
    assert window.theme_actions["dark"].isChecked()
    assert not window.theme_actions["light"].isChecked()
    window.close()

    again = make_window(qtbot, sqlite_engine, qsettings)
    assert again.theme.choice == "dark"
    assert background_lightness(again) < 60
    again.theme_actions["light"].trigger()
    assert background_lightness(again) > 200
    assert qsettings.value(theme.THEME_KEY) == "light"
    again.theme_actions["system"].trigger()
    assert again.theme.colours is theme.colours_for("system")


def test_sidebar_has_sections_and_an_icon_for_every_page(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    bar = window.sidebar
    assert bar.sections() == [
        "AUDIENCE", "CONTENT", "CAMPAIGNS", "AUTOMATIONS", "REPORTS", "SENDING", "TEAM"
    ]  # fmt: skip
    assert sorted(bar.pages()) == sorted(PAGES)
    for row in range(bar.count()):
        item = bar.item(row)
        if bar.page_at(row) is None:
            assert not item.flags()  # a title cannot be selected
        else:
            assert not item.icon().isNull()
            assert not item.icon().pixmap(36, 36).isNull()
    window.go("Analytics")
    assert window.stack.currentWidget() is window.analytics
    assert bar.currentItem().text() == "Analytics"


def test_dashboard_chart_is_steps_over_zero_filled_minutes(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    dashboard = window.dashboard
    window.go("Dashboard")
    qtbot.waitUntil(lambda: dashboard.figures is not None)
    # No events: no axes whose labels could only repeat 0.
    assert dashboard.chart.axes() == []
    assert "none yet" in dashboard.chart.title()

    minute = timedelta(minutes=1)
    dashboard.draw_chart({"delivered": [(T0, 4), (T0 + 3 * minute, 2)]})
    series = {s.name(): s for s in dashboard.chart.series() if isinstance(s, QLineSeries)}
    points = [(p.x(), p.y()) for p in series["delivered"].points()]
    # Two points per minute, at its start and end, at the same height: a flat step.
    assert [y for _, y in points] == [0, 0, 4, 4, 0, 0, 0, 0, 2, 2]
    width_ms = 60_000
    for (x0, y0), (x1, y1) in zip(points[::2], points[1::2], strict=True):
        assert (x1 - x0, y1) == (width_ms, y0)
    assert [p.y() for p in series["bounced"].points()] == [0] * 10
    (count_axis,) = (a for a in dashboard.chart.axes() if isinstance(a, QValueAxis))
    # 0 1 2 3 4: whole numbers, none twice.
    assert (count_axis.max(), count_axis.tickCount()) == (4, 5)
    qtbot.wait(200)  # the chart lays itself out on the event loop
    window.grab().save(str(artifacts / "look-dashboard-steps.png"))


def test_no_table_has_a_row_number_column(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    # Qt's own class, so a table made any way is found.
    tables = window.findChildren(QtTableView)
    assert len(tables) >= 6
    for table in tables:
        assert table.verticalHeader().isHidden(), type(table.parent()).__name__


def test_a_notice_moves_nothing_and_goes_away(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    window.go("Templates")
    page = window.templates
    qtbot.wait(50)
    around = [w for w in page.findChildren(QWidget) if w.isVisible() and w is not page.message]
    before = [w.geometry() for w in around]
    notice_before = page.message.geometry()
    page.message.timer.setInterval(300)
    page.message.flash("Saved.")
    qtbot.wait(50)
    assert page.message.text() == "Saved."
    assert page.message.property("transient") is True
    assert [w.geometry() for w in around] == before
    assert page.message.geometry() == notice_before
    qtbot.waitUntil(lambda: page.message.text() == "")
    # An error stays until the next message.
    page.message.setText("Not saved: the name is taken.")
    assert page.message.property("transient") is False and not page.message.timer.isActive()
    assert [w.geometry() for w in around] == before
    # A long message wraps inside the same reserved space.
    page.message.flash("Test sent to " + ", ".join(f"p{i}@example.com" for i in range(40)))
    qtbot.wait(50)
    assert [w.geometry() for w in around] == before


def test_screenshots_of_every_main_screen_in_light_and_dark(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    window = make_window(qtbot, sqlite_engine, qsettings)
    window.resize(1100, 700)
    for choice in ("light", "dark"):
        window.theme.choose(choice)
        for name in PAGES:
            window.go(name)
            qtbot.wait(100)
            slug = name.lower().replace(" ", "-")
            window.grab().save(str(artifacts / f"look-{choice}-{slug}.png"))
    window.theme.choose("light")


def test_the_window_icon_is_the_installers_icon() -> None:
    installers = Path(__file__).resolve().parents[3] / "installers" / "desktop"
    assert (theme.ICONS / "app.svg").read_bytes() == (installers / "mailfleet.svg").read_bytes()

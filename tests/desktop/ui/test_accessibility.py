"""Keyboard and accessibility (issue 24): every interactive widget of the main screens has a
name a screen reader can say; focus is visible in both themes; the theme's text and
background pairs pass WCAG 2.1 AA contrast in both themes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui import theme
from mailfleet.desktop.ui.main_window import PAGES, MainWindow
from mailfleet.desktop.ui.qt import QPushButton, Qt, QVBoxLayout, QWidget
from tests.desktop.importing import import_file, plan_for, write_csv

INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractItemView, QAbstractSpinBox,
               QTextEdit, QPlainTextEdit)  # fmt: skip
AA_TEXT = 4.5  # normal text
AA_LARGE = 3.0  # figures (24 px) and focus indicators


def relative_luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of a #rrggbb colour."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.1's contrast ratio of two colours (1 to 21)."""
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_matches_wcags_own_figures() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("colours", [theme.LIGHT, theme.DARK], ids=lambda c: c.name)
def test_every_text_colour_passes_aa_on_every_background(colours: theme.Colours) -> None:
    c = colours
    backgrounds = {"window": c.window, "surface": c.surface, "sidebar": c.sidebar}
    failing = [
        (fg, bg, round(contrast(getattr(c, fg), colour), 2))
        for fg in ("text", "muted", "accent", "success", "danger")
        for bg, colour in backgrounds.items()
        if contrast(getattr(c, fg), colour) < AA_TEXT
    ]
    if contrast(c.on_accent, c.accent) < AA_TEXT:  # the selected sidebar page, highlights
        failing.append(("on_accent", "accent", round(contrast(c.on_accent, c.accent), 2)))
    for series in theme.series_colours(c):  # chart bars against the chart's surface
        if contrast(series, c.surface) < AA_LARGE:
            failing.append((series, "surface", round(contrast(series, c.surface), 2)))
    assert failing == []


def unnamed(root: QWidget) -> list[str]:
    """The interactive widgets under ``root`` a screen reader has no name for."""
    found = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or not widget.isVisibleTo(root):
            continue
        if isinstance(widget, QHeaderView) or isinstance(widget.parentWidget(), QAbstractSpinBox):
            continue  # a table's or a spin box's own part, named by the control it belongs to
        if widget.focusPolicy() == widget.focusPolicy().NoFocus and not widget.isEnabled():
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface is not None else ""
        if not name.strip():
            owner = widget.parentWidget()
            while owner is not None and not any(v is widget for v in vars(owner).values()):
                owner = owner.parentWidget()
            held = vars(owner).items() if owner is not None else ()
            attribute = next((k for k, v in held if v is widget), "?")
            found.append(f"{type(widget).__name__} {type(owner).__name__}.{attribute}")
    return found


def test_every_control_of_the_main_screens_has_an_accessible_name(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    rows = [["email"], ["ann@shop.example"]]
    import_file(sqlite_engine, plan_for(write_csv(tmp_path / "a.csv", rows), ws, ("email",)))
    window = MainWindow(sqlite_engine, ws, "Default", qsettings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.contacts.count_label.text() == "1 contact")
    missing = {}
    for name in PAGES:
        window.go(name)
        page = window.stack.currentWidget()
        assert page is not None
        qtbot.wait(20)
        found = unnamed(page)
        if found:
            missing[name] = found
    assert unnamed(window.sidebar.parentWidget() or window) == []
    assert missing == {}, "\n".join(f"{page}: {names}" for page, names in missing.items())


@pytest.mark.parametrize("choice", ["light", "dark"])
def test_focus_is_visible_in_both_themes(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, choice: str
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    window = MainWindow(sqlite_engine, ws, "Default", qsettings)
    qtbot.addWidget(window)
    window.theme.choose(choice)
    box = QWidget()
    qtbot.addWidget(box)
    layout = QVBoxLayout(box)
    combo = QComboBox()
    combo.addItem("Per week")
    controls: list[QWidget] = [QPushButton("Save"), QLineEdit("text"), combo]
    for control in controls:
        layout.addWidget(control)
    # Something else to hold the focus while a control is drawn without it.
    elsewhere = QPushButton("Elsewhere")
    layout.addWidget(elsewhere)
    box.show()
    qtbot.waitExposed(box)
    for control in controls:
        # Moved there by Tab, as a keyboard user does: styles draw the focus for that.
        QWidget.setTabOrder(elsewhere, control)
        elsewhere.setFocus()
        qtbot.waitUntil(elsewhere.hasFocus)
        before = control.grab().toImage()
        qtbot.keyClick(elsewhere, Qt.Key.Key_Tab)  # type: ignore[no-untyped-call]
        qtbot.waitUntil(control.hasFocus)
        after = control.grab().toImage()
        assert before != after, f"{type(control).__name__} looks the same with the focus"
    window.theme.choose("light")

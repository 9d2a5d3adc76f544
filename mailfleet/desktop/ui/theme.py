"""The desktop's look in one place: the light and dark palettes, the stylesheet (spacing, type
scale, sidebar, cards, notices), the icon set shipped in ``ui/icons`` and the chart colours.

The theme follows the system's colour scheme unless the person chose Light or Dark (View ▸
Theme), a choice kept in the settings under ``THEME_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailfleet.desktop.ui.qt import (
    QApplication,
    QByteArray,
    QChart,
    QColor,
    QIcon,
    QIconEngine,
    QObject,
    QPainter,
    QPalette,
    QPixmap,
    QRect,
    QSettings,
    QSize,
    QSvgRenderer,
    Qt,
    Signal,
)

THEME_KEY = "view/theme"
CHOICES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
ICONS = Path(__file__).resolve().parent / "icons"
# The type scale (px) and the spacing unit every page uses.
BODY_PX = 13
SMALL_PX = 11
FIGURE_PX = 24
SPACING = 8


@dataclass(frozen=True)
class Colours:
    """One theme's colours."""

    name: str
    window: str
    surface: str
    text: str
    muted: str
    border: str
    sidebar: str
    accent: str
    on_accent: str
    success: str
    danger: str  # errors the person must read


LIGHT = Colours("light", "#f6f7f9", "#ffffff", "#1d2330", "#5b6576", "#d9dde5", "#eceff4",
                "#1f5f8b", "#ffffff", "#1b7a43", "#b00020")  # fmt: skip
DARK = Colours("dark", "#181b21", "#22262e", "#e6e9ef", "#a3abb9", "#363c47", "#1e2229",
               "#5aa9e6", "#0d1117", "#5cc98a", "#ff8080")  # fmt: skip


# Chart series, in order: the Okabe-Ito hues, told apart with any colour vision, each at least
# 3:1 against the chart's surface (WCAG 2.1 AA for graphics): darkened in the light theme,
# lighter in the dark one.
LIGHT_SERIES = ("#0072b2", "#c96d00", "#007a5a", "#b0457f", "#5b6b8c", "#8a5a00")
DARK_SERIES = ("#56b4e9", "#f0c05a", "#3ccf9e", "#e3a6c9", "#ff8a4c", "#a7d8f5")


def series_colours(c: Colours) -> tuple[str, ...]:
    """The colours of a chart's series, first series first, in theme ``c``."""
    return DARK_SERIES if c is DARK else LIGHT_SERIES


def current() -> Colours:
    """The theme the application is drawn in now (as ``Theme.apply`` set its palette)."""
    window = QApplication.palette().color(QPalette.ColorRole.Window)
    return DARK if window == QColor(DARK.window) else LIGHT


def system_is_dark() -> bool:
    """Whether the operating system asks for a dark colour scheme (Qt 6.5+)."""
    return QApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def colours_for(choice: str) -> Colours:
    """The colours a choice of ``CHOICES`` means now."""
    if choice == "system":
        return DARK if system_is_dark() else LIGHT
    return DARK if choice == "dark" else LIGHT


def palette(c: Colours) -> QPalette:
    """The Qt palette of a theme, so every standard widget follows it."""
    p = QPalette()
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, c.window),
        (roles.WindowText, c.text),
        (roles.Base, c.surface),
        (roles.AlternateBase, c.sidebar),
        (roles.Text, c.text),
        (roles.Button, c.surface),
        (roles.ButtonText, c.text),
        (roles.ToolTipBase, c.surface),
        (roles.ToolTipText, c.text),
        (roles.PlaceholderText, c.muted),
        (roles.Highlight, c.accent),
        (roles.HighlightedText, c.on_accent),
        (roles.Link, c.accent),
        (roles.Mid, c.border),
    ):
        p.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    return p


def stylesheet(c: Colours) -> str:
    """The few rules a palette cannot say: the sidebar, cards, notices, table headers."""
    return f"""
QWidget {{ font-size: {BODY_PX}px; }}
QListWidget#sidebar {{ background: {c.sidebar}; border: none; border-right: 1px solid {c.border};
    padding: {SPACING}px; outline: 0; }}
QListWidget#sidebar::item {{ padding: 5px {SPACING}px; border-radius: 6px; }}
QListWidget#sidebar::item:selected {{ background: {c.accent}; color: {c.on_accent}; }}
QFrame#card {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 8px; }}
QLabel#card-value {{ font-size: {FIGURE_PX}px; font-weight: 600; }}
QLabel#card-caption {{ color: {c.muted}; font-size: {SMALL_PX}px; }}
QLabel#notice[transient="true"] {{ color: {c.success}; }}
QHeaderView::section {{ background: {c.sidebar}; color: {c.text}; border: none;
    border-bottom: 1px solid {c.border}; padding: 4px 6px; }}
QTableView {{ gridline-color: {c.border}; }}
"""


class Theme(QObject):
    """Applies the chosen theme to the whole application and keeps to it: a change of the
    system's scheme is followed while the choice is "system"."""

    changed = Signal()

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        choice = str(settings.value(THEME_KEY, "system"))
        self.choice = choice if choice in CHOICES else "system"
        self.colours = colours_for(self.choice)
        QApplication.styleHints().colorSchemeChanged.connect(self._system_changed)
        self.apply()

    def choose(self, choice: str) -> None:
        """Use ``choice`` (a key of ``CHOICES``) from now on, and remember it."""
        self.choice = choice
        self.settings.setValue(THEME_KEY, choice)
        self.settings.sync()
        self.apply()

    def apply(self) -> None:
        """Set the palette and stylesheet of the application."""
        self.colours = colours_for(self.choice)
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.setStyle("Fusion")  # the style that draws with the palette on every platform
        app.setPalette(palette(self.colours))
        app.setStyleSheet(stylesheet(self.colours))
        app.setWindowIcon(app_icon())
        self.changed.emit()

    def _system_changed(self, _scheme: object) -> None:
        if self.choice == "system":
            self.apply()


def app_icon() -> QIcon:
    """Mailfleet's own icon (the window's and the installers')."""
    return QIcon(str(ICONS / "app.svg"))


class _TintedSvg(QIconEngine):
    """An SVG icon drawn in one colour at whatever size and pixel ratio is asked, so it stays
    sharp on a high-DPI screen (the icon set strokes with ``currentColor``)."""

    def __init__(self, svg: bytes, colour: str, selected: str) -> None:
        super().__init__()
        self.svg, self.colour, self.selected = svg, colour, selected
        self.renderers = {
            mode: QSvgRenderer(QByteArray(svg.replace(b"currentColor", tint.encode())))
            for mode, tint in ((QIcon.Mode.Normal, colour), (QIcon.Mode.Selected, selected))
        }

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        """Draw the icon into ``rect`` (in the selection's colour when selected)."""
        renderer = self.renderers.get(mode, self.renderers[QIcon.Mode.Normal])
        renderer.render(painter, rect)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        """The icon at ``size`` device pixels."""
        image = QPixmap(size)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        self.paint(painter, QRect(0, 0, size.width(), size.height()), mode, state)
        painter.end()
        return image

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:  # fmt: skip
        """The icon for ``size`` logical pixels on a screen of pixel ratio ``scale``."""
        image = self.pixmap(QSize(round(size.width() * scale), round(size.height() * scale)),
                            mode, state)  # fmt: skip
        image.setDevicePixelRatio(scale)
        return image

    def clone(self) -> QIconEngine:
        """A copy (Qt copies icons)."""
        return _TintedSvg(self.svg, self.colour, self.selected)


def icon(name: str, colour: str, selected: str) -> QIcon:
    """The icon ``ui/icons/<name>.svg`` drawn in ``colour``, or ``selected`` when selected."""
    return QIcon(_TintedSvg((ICONS / f"{name}.svg").read_bytes(), colour, selected))


def style_chart(chart: QChart) -> None:
    """Give a chart the application's colours (QtCharts does not follow the palette)."""
    p = QApplication.palette()
    text, base = p.color(QPalette.ColorRole.Text), p.color(QPalette.ColorRole.Base)
    chart.setBackgroundBrush(base)
    chart.setTitleBrush(text)
    chart.legend().setLabelColor(text)
    for axis in chart.axes():
        axis.setLabelsColor(text)
        axis.setTitleBrush(text)
        axis.setGridLineColor(p.color(QPalette.ColorRole.Mid))

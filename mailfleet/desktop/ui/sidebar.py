"""The window's sidebar: the pages in sections (Audience, Content, Campaigns, Automations,
Reports, Sending, Team), each page with its icon; a section's title cannot be selected."""

from __future__ import annotations

from mailfleet.desktop.ui import theme
from mailfleet.desktop.ui.qt import QColor, QFont, QListWidget, QListWidgetItem, QSize, Qt

# Section → its pages, in the order shown. A page the window does not have is left out, and so
# is a section with none.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Audience", ("Audience overview", "Contacts", "Segments", "Signup forms", "Suppression")),
    ("Content", ("Templates",)),
    ("Campaigns", ("Campaigns",)),
    ("Automations", ("Automations",)),
    ("Reports", ("Dashboard", "Analytics")),
    ("Sending", ("Agents", "Settings")),
    ("Team", ("People", "Audit log")),
)
PAGE_ROLE = Qt.ItemDataRole.UserRole
WIDTH = 220


def icon_name(page: str) -> str:
    """The file name (without .svg) of a page's icon in ``ui/icons``."""
    return page.lower().replace(" ", "-")


class Sidebar(QListWidget):
    """Section titles and page entries; ``page_at(row)`` names the page on a row."""

    def __init__(self, pages: tuple[str, ...]) -> None:
        super().__init__()
        self.setObjectName("sidebar")
        self.setAccessibleName("Pages")
        self.setFixedWidth(WIDTH)
        # A fixed width with every name fitting: once the vertical scroll bar narrows it on a
        # short window, a horizontal one would only cover the last entry.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setIconSize(QSize(18, 18))
        self.setSpacing(1)
        self.rows: dict[str, int] = {}
        for section, names in SECTIONS:
            shown = [name for name in names if name in pages]
            if not shown:
                continue
            title = QListWidgetItem(section.upper())
            title.setFlags(Qt.ItemFlag.NoItemFlags)
            font = QFont(title.font())
            font.setBold(True)
            font.setPixelSize(theme.SMALL_PX)
            title.setFont(font)
            self.addItem(title)
            for name in shown:
                item = QListWidgetItem(name)
                item.setData(PAGE_ROLE, name)
                self.rows[name] = self.count()
                self.addItem(item)
        missing = [name for name in pages if name not in self.rows]
        assert not missing, f"pages without a sidebar section: {missing}"

    def page_at(self, row: int) -> str | None:
        """The page on ``row``, or None for a section title."""
        item = self.item(row)
        value = item.data(PAGE_ROLE) if item is not None else None
        return value if isinstance(value, str) else None

    def pages(self) -> list[str]:
        """The pages listed, top to bottom."""
        return list(self.rows)

    def sections(self) -> list[str]:
        """The section titles shown, top to bottom."""
        return [self.item(r).text() for r in range(self.count()) if self.page_at(r) is None]

    def retheme(self, colours: theme.Colours) -> None:
        """Redraw the icons and titles in the theme's colours."""
        for row in range(self.count()):
            item = self.item(row)
            page = self.page_at(row)
            if page is None:
                item.setForeground(QColor(colours.muted))
            else:
                item.setIcon(theme.icon(icon_name(page), colours.text, colours.on_accent))

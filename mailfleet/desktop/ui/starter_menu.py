"""The New menu of the Templates page: a blank template in each editor, or a starter design."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from mailfleet.desktop.services.blocks.starters import STARTERS
from mailfleet.desktop.ui.qt import QMenu, QWidget

BLANK = {"blocks": "Blank design (blocks)", "markdown": "Blank Markdown", "html": "Blank HTML"}


def starter_menu(
    parent: QWidget, blank: Callable[[str], None], starter: Callable[[str], None]
) -> QMenu:
    """A menu calling ``blank(editor)`` or ``starter(key)`` with what was chosen."""
    menu = QMenu(parent)
    for editor, label in BLANK.items():
        menu.addAction(label, partial(blank, editor))
    menu.addSeparator()
    menu.addSection("Starter designs")
    for key, title in STARTERS.items():
        menu.addAction(title, partial(starter, key))
    return menu

"""The message's HTML as a preview, at a desktop or a phone's width.

A small boundary on purpose: the page hands it HTML and reads nothing back, so the view inside
(a rich-text browser today, which ignores media queries) can become a real browser engine
without the pages changing.
"""

from __future__ import annotations

from mailfleet.desktop.ui.qt import (
    QButtonGroup,
    QHBoxLayout,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

PHONE_WIDTH = 375


class MessagePreview(QWidget):
    """A preview of one message's HTML with a Desktop / Phone width toggle."""

    def __init__(self) -> None:
        super().__init__()
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.desktop = QPushButton("Desktop")
        self.phone = QPushButton("Phone")
        group = QButtonGroup(self)
        for button in (self.desktop, self.phone):
            button.setCheckable(True)
            group.addButton(button)
        self.desktop.setChecked(True)
        self.desktop.toggled.connect(self._width)
        toggle = QHBoxLayout()
        toggle.addStretch(1)
        toggle.addWidget(self.desktop)
        toggle.addWidget(self.phone)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(toggle)
        # The margins take what a phone's width leaves over.
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(self.view, 100)
        centred.addStretch(1)
        layout.addLayout(centred, 1)

    def _width(self, desktop: bool) -> None:
        self.view.setMaximumWidth(16_777_215 if desktop else PHONE_WIDTH)

    def setHtml(self, html: str) -> None:
        """Show ``html``."""
        self.view.setHtml(html)

    def toPlainText(self) -> str:
        """The text shown (for tests and accessibility)."""
        return self.view.toPlainText()

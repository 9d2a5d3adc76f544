"""The message's HTML as a mail client shows it: Chromium (Qt WebEngine) at a desktop or a
phone's width, in light or dark mode.

A real browser engine, so a design's media queries apply (a phone's width stacks the columns)
and the dark mode is Chromium's own automatic darkening, the kind Gmail's and Outlook's apps
apply to a message that has no dark style of its own. As in a mail client, scripts do not run
and a click on a link opens nothing. The browser starts with the first message shown, not
with the page, so windows that never preview pay nothing for it.
"""

from __future__ import annotations

from mailfleet.desktop.ui.qt import (
    QButtonGroup,
    QHBoxLayout,
    QPushButton,
    QUrl,
    QVBoxLayout,
    QWebEnginePage,
    QWebEngineSettings,
    QWebEngineView,
    QWidget,
)

PHONE_WIDTH = 375
_REFUSED = (
    QWebEnginePage.NavigationType.NavigationTypeLinkClicked,
    QWebEnginePage.NavigationType.NavigationTypeFormSubmitted,
)


class _MessagePage(QWebEnginePage):
    """A page that shows what it is given and goes nowhere else."""

    def acceptNavigationRequest(
        self, url: QUrl | str, type: QWebEnginePage.NavigationType, isMainFrame: bool
    ) -> bool:
        """Refuse following a link or a form: the preview shows the message, not the web."""
        return type not in _REFUSED


class MessagePreview(QWidget):
    """A preview of one message's HTML with Desktop / Phone and Light / Dark toggles."""

    def __init__(self) -> None:
        super().__init__()
        self.browser: QWebEngineView | None = None  # made on the first setHtml
        self._html = ""
        self._text = ""
        # The browser's frame: the margins beside it take what a phone's width leaves over.
        self.frame = QWidget()
        self._frame_layout = QVBoxLayout(self.frame)
        self._frame_layout.setContentsMargins(0, 0, 0, 0)
        self.desktop = QPushButton("Desktop")
        self.phone = QPushButton("Phone")
        self.light = QPushButton("Light")
        self.dark = QPushButton("Dark")
        toggle = QHBoxLayout()
        toggle.addStretch(1)
        for first, second in ((self.desktop, self.phone), (self.light, self.dark)):
            group = QButtonGroup(self)
            for button in (first, second):
                button.setCheckable(True)
                group.addButton(button)
                toggle.addWidget(button)
            first.setChecked(True)
        toggle.insertSpacing(3, 12)
        self.desktop.toggled.connect(self._width)
        self.dark.toggled.connect(self._dark)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(toggle)
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(self.frame, 100)
        centred.addStretch(1)
        layout.addLayout(centred, 1)

    def _width(self, desktop: bool) -> None:
        self.frame.setMaximumWidth(16_777_215 if desktop else PHONE_WIDTH)

    def _dark(self, dark: bool) -> None:
        if self.browser is not None:
            attribute = QWebEngineSettings.WebAttribute.ForceDarkMode
            self.browser.settings().setAttribute(attribute, dark)  # applies without a reload

    def _made(self) -> QWebEngineView:
        if self.browser is None:
            self.browser = QWebEngineView(self.frame)
            self.browser.setAccessibleName("Message preview")
            self.browser.setPage(_MessagePage(self.browser))
            settings = self.browser.settings()
            settings.setAttribute(QWebEngineSettings.WebAttribute.JavascriptEnabled, False)
            settings.setAttribute(
                QWebEngineSettings.WebAttribute.ForceDarkMode, self.dark.isChecked()
            )
            self.browser.loadFinished.connect(self._loaded)
            self._frame_layout.addWidget(self.browser)
        return self.browser

    def setHtml(self, html: str) -> None:
        """Show ``html``."""
        self._html = html
        self._load()

    def _load(self) -> None:
        self._text = ""  # until the browser has laid out what it is given now
        self._made().setHtml(self._html)

    def _loaded(self, ok: bool) -> None:
        if ok and self.browser is not None:
            self.browser.page().toPlainText(self._read)

    def _read(self, text: str) -> None:
        self._text = text

    def toPlainText(self) -> str:
        """The text of the message last shown, once the browser has laid it out (for tests
        and accessibility); "" before."""
        return self._text

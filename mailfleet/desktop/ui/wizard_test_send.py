"""The review page's test send: the campaign's message to a few addresses, personalised as one
contact of its audience, through the first chosen agent."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from mailfleet.desktop.services import templates
from mailfleet.desktop.services.campaigns import Audience
from mailfleet.desktop.ui import test_send_task
from mailfleet.desktop.ui.notice import Notice
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import TaskRunner

# How many of the audience's contacts the "Send as" list offers (any other can be typed).
OFFERED = 50


class TestSendBox(QWidget):
    """Test addresses, a "Send as" contact (a random mailable one of the audience by default)
    and a Send test button; the result in a notice below."""

    __test__ = False  # a widget, not a pytest test class

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        message: Callable[[], tuple[str, str, str, str]],
    ) -> None:
        """``message`` gives (subject, html, text, From address) as the wizard has them now."""
        super().__init__()
        self.engine, self.workspace_id, self.runner = engine, workspace_id, runner
        self.message = message
        self.agent_id: int | None = None
        self.to = QLineEdit()
        self.to.setAccessibleName("Send a test to")
        self.to.setPlaceholderText("Test to: a@example.com, b@example.com")
        self.contact = QComboBox()
        self.contact.setEditable(True)
        self.contact.setAccessibleName("Send the test as this contact")
        self.contact.setToolTip("Whose name and fields the test shows")
        self.contact.setMinimumContentsLength(22)
        self.button = QPushButton("Send test")
        self.button.clicked.connect(self.send)
        self.notice = Notice()
        row = QHBoxLayout()
        row.addWidget(QLabel("Test to"))
        row.addWidget(self.to, 2)
        row.addWidget(QLabel("as"))
        row.addWidget(self.contact, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.notice)

    def offer(self, audience: Audience, agent_id: int | None) -> None:
        """Offer a random sample of the audience's mailable contacts, read in the background;
        tests go through ``agent_id`` (None: no agent chosen)."""
        self.agent_id = agent_id
        ws = self.workspace_id

        def shown(emails: list[str]) -> None:
            typed = self.contact.currentText()
            self.contact.clear()
            self.contact.addItems(emails)
            if typed and typed in emails:
                self.contact.setCurrentText(typed)

        self.runner.read(
            self.engine,
            "Picking contacts for a test",
            lambda c: templates.sample_contacts(c, ws, audience, OFFERED),
            shown,
        )

    def send(self) -> None:
        """Send the campaign's message to the test addresses, as the chosen contact."""
        if self.agent_id is None:
            self.notice.setText("Choose an agent on the Delivery page to send a test.")
            return
        subject, html, text, sender = self.message()
        test_send_task.send_in_background(
            self.runner,
            self.notice,
            self.engine,
            self.workspace_id,
            self.agent_id,
            test_send_task.addresses(self.to.text()),
            lambda: (subject, html, text),
            sender,
            self.contact.currentText().strip(),
        )

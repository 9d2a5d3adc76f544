"""The workspace's branding: the logo, colours and language of the unsubscribe and preference
pages its agents serve (``services.workspace_branding``). Saving wakes the signup sync, which
gives it to every paired agent in the background; an agent that is away gets it when back."""

from __future__ import annotations

from sqlalchemy import Engine

from mailfleet.desktop.services import workspace_branding
from mailfleet.desktop.services.languages import LANGUAGES
from mailfleet.desktop.services.workspace_branding import Branding, BrandingError
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import TaskRunner


def _colour_field() -> QLineEdit:
    field = QLineEdit()
    field.setPlaceholderText("#rrggbb (empty for the default)")
    field.setMaxLength(7)
    return field


class BrandingDialog(QDialog):
    """Edits the workspace's branding; Save keeps it and sends it to the agents."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        sync: FleetSync,
        parent: QWidget | None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Workspace branding")
        self.setMinimumWidth(520)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.sync = sync
        self.logo = QLineEdit()
        self.logo.setPlaceholderText("https://www.example.com/logo.png (empty for none)")
        self.accent = _colour_field()
        self.background = _colour_field()
        self.text = _colour_field()
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        form = QFormLayout()
        form.addRow("Logo address", self.logo)
        form.addRow("Button and link colour", self.accent)
        form.addRow("Background colour", self.background)
        form.addRow("Text colour", self.text)
        form.addRow("Default language", self.language)
        hint = QLabel(
            "Your agents show the unsubscribe and preference pages in this look. The language "
            "is used when neither the campaign nor the visitor's browser picks one. A signup "
            "form's own logo and colours win over these on its pages."
        )
        hint.setWordWrap(True)
        hint.setObjectName("caption")
        self.message = QLabel("Loading…")
        self.message.setWordWrap(True)
        self.save_button = QPushButton("Save and publish")
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        ws = workspace_id
        runner.read(engine, "Reading the workspace branding",
                    lambda c: workspace_branding.branding(c, ws), self._show,
                    on_error=self._unread)  # fmt: skip

    def _unread(self, _exc: Exception) -> None:
        self.message.setText("⚠ Could not read the branding.")

    def _show(self, look: Branding) -> None:
        self.message.clear()
        self.logo.setText(look.logo_url)
        self.accent.setText(look.accent_color)
        self.background.setText(look.background_color)
        self.text.setText(look.text_color)
        self.language.setCurrentIndex(max(self.language.findData(look.language), 0))

    def chosen(self) -> Branding:
        """The branding as typed."""
        return Branding(
            self.logo.text(),
            self.accent.text(),
            self.background.text(),
            self.text.text(),
            str(self.language.currentData()),
        )

    def save(self) -> None:
        """Check and keep the branding (on the write worker), then send it to the agents."""
        ws, look = self.workspace_id, self.chosen()
        try:
            workspace_branding.checked(look)
        except BrandingError as exc:
            self.message.setText(f"⚠ Not saved: {explain(exc)}")
            return
        self.message.setText("Saving…")

        def saved(clean: Branding) -> None:
            self._show(clean)
            self.message.setText(
                "Saved. Your agents get it in the background; one that is away gets it when "
                "it is back."
            )
            self.sync.sync_signups()

        def failed(exc: Exception) -> None:
            self.message.setText(f"⚠ Not saved: {explain(exc)}")

        self.runner.write(self.engine, "Saving the workspace branding",
                          lambda c: workspace_branding.save(c, ws, look), saved,
                          on_error=failed)  # fmt: skip

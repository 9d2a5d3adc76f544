"""Small pages: Settings."""

from __future__ import annotations

from mailfleet.desktop.ui.notice import Notice
from mailfleet.desktop.ui.qt import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSettings,
    QWidget,
)

DATABASE_URL_KEY = "database/url"


class SettingsPage(QWidget):
    """The database URL (SQLite file or a PostgreSQL team database), the workspace and the
    workspace's own settings (``workspace_settings``, e.g. how long details are kept; and
    ``spam_setting``, the SpamAssassin its checks ask)."""

    def __init__(
        self,
        settings: QSettings,
        current_url: str,
        workspace: str,
        workspace_settings: QWidget | None = None,
        spam_setting: QWidget | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.url = QLineEdit(str(settings.value(DATABASE_URL_KEY, "")) or "")
        self.url.setAccessibleName("Database address")
        self.url.setPlaceholderText("default: SQLite in the user data folder")
        self.note = QLabel(
            "For a shared team database use e.g. "
            "<code>postgresql+psycopg://user@host/mailfleet</code>. "
            "The change takes effect the next time Mailfleet starts."
        )
        self.note.setWordWrap(True)
        save = QPushButton("Save")
        save.clicked.connect(self.save)
        self.saved = Notice()
        form = QFormLayout(self)
        form.addRow("<h2>Settings</h2>", QLabel(""))
        form.addRow("Database in use", QLabel(current_url))
        form.addRow("Workspace", QLabel(workspace))
        form.addRow("Database URL", self.url)
        form.addRow("", self.note)
        form.addRow(save, self.saved)
        if workspace_settings is not None:
            form.addRow("<h3>This workspace</h3>", QLabel(""))
            form.addRow("Campaign details", workspace_settings)
        if spam_setting is not None:
            form.addRow("SpamAssassin", spam_setting)

    def save(self) -> None:
        """Store the URL for the next start."""
        self.settings.setValue(DATABASE_URL_KEY, self.url.text().strip())
        self.settings.sync()
        self.saved.flash("Saved: restart to use it.")

"""Where the media library's images are published: on the sending agents (the default) or in
an S3-compatible bucket, with its keys kept in the OS keyring (``services.media_storage``)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from mailfleet.desktop.services import media_storage
from mailfleet.desktop.services.media_storage import Bucket
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QCheckBox,
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


class MediaBucketDialog(QDialog):
    """Edits the workspace's media bucket; the keys are written to the keyring, never shown."""

    def __init__(
        self, engine: Engine, workspace_id: int, runner: TaskRunner, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Where images are published")
        self.setMinimumWidth(560)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.use_bucket = QCheckBox("Publish images in an S3-compatible bucket")
        self.use_bucket.toggled.connect(self._enable)
        self.bucket = QLineEdit()
        self.public_url = QLineEdit()
        self.public_url.setPlaceholderText("https://media.example.com (where recipients fetch)")
        self.endpoint = QLineEdit()
        self.endpoint.setPlaceholderText("Empty for AWS; https://s3.example.com for others")
        self.region = QLineEdit()
        self.key_id = QLineEdit()
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("Kept in this computer's password store")
        self.form = QWidget()
        form = QFormLayout(self.form)
        form.addRow("Bucket", self.bucket)
        form.addRow("Public address", self.public_url)
        form.addRow("S3 address", self.endpoint)
        form.addRow("Region", self.region)
        form.addRow("Access key id", self.key_id)
        form.addRow("Secret key", self.secret)
        hint = QLabel(
            "Without a bucket, each image is published on the agent that sends it. The bucket's "
            "policy must let anyone read media/*."
        )
        hint.setWordWrap(True)
        hint.setObjectName("caption")
        self.message = QLabel("Loading…")
        self.message.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.use_bucket)
        layout.addWidget(self.form)
        layout.addWidget(hint)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._enable(False)
        ws = workspace_id
        runner.read(engine, "Reading the media bucket", lambda c: media_storage.bucket(c, ws),
                    self._show, on_error=self._error)  # fmt: skip

    def _enable(self, on: bool) -> None:
        self.form.setEnabled(on)

    def _show(self, chosen: Bucket | None) -> None:
        self.message.clear()
        self.use_bucket.setChecked(chosen is not None)
        if chosen is not None:
            self.bucket.setText(chosen.bucket)
            self.public_url.setText(chosen.public_url)
            self.endpoint.setText(chosen.endpoint_url)
            self.region.setText(chosen.region)
            self.secret.setPlaceholderText("Kept; type new keys to replace them")

    def save(self) -> None:
        """Keep the setting (checked) and, when typed, the keys in the keyring."""
        ws = self.workspace_id
        chosen = (
            Bucket(self.bucket.text().strip(), self.public_url.text().strip(),
                   self.endpoint.text().strip(), self.region.text().strip())
            if self.use_bucket.isChecked()
            else None
        )  # fmt: skip
        key_id, secret = self.key_id.text().strip(), self.secret.text()
        if chosen is not None and bool(key_id) != bool(secret):
            self.message.setText("⚠ Type both the access key id and the secret key.")
            return

        self.message.setText("Saving…")

        def change(conn: Connection) -> None:
            media_storage.set_bucket(conn, ws, chosen)
            if chosen is not None and key_id:
                media_storage.store_keys(ws, key_id, secret)

        def done(_result: None) -> None:
            self.key_id.clear()
            self.secret.clear()
            self.message.setText(
                f"Images are published in {chosen.bucket}." if chosen is not None
                else "Images are published on the agents."
            )  # fmt: skip

        self.runner.write(self.engine, "Saving the media bucket", change, done,
                          on_error=self._error)  # fmt: skip

    def _error(self, exc: Exception) -> None:
        self.message.setText(f"⚠ {explain(exc)}")

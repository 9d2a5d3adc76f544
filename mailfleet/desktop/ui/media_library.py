"""The media library dialog: the workspace's images as thumbnails, uploaded from files (each
checked by its bytes), described with alt text, deleted when no template shows them, and chosen
for an image block.

Files are read and checked on the write queue, never on the GUI thread; one file refused does
not stop the others, and each refusal is said in the library's own words.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from sqlalchemy import Connection, Engine

from mailfleet.desktop.services import media
from mailfleet.desktop.services.media import MediaError, MediaRow
from mailfleet.desktop.services.plurals import counted
from mailfleet.desktop.ui import confirm
from mailfleet.desktop.ui.media_bucket_dialog import MediaBucketDialog
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QIcon,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPixmap,
    QPushButton,
    QSize,
    QVBoxLayout,
    QWidget,
)
from mailfleet.desktop.ui.tasks import Latest, TaskRunner

Chosen = Callable[[str, str], None]  # the image's reference (media:<id>) and its alt text
_FILES = "Images (*.png *.jpg *.jpeg *.gif *.webp);;All files (*)"


def _upload(workspace_id: int, paths: list[Path]) -> Callable[[Connection], list[str]]:
    """Adds each file; returns the refusals, in words."""

    def change(conn: Connection) -> list[str]:
        refused = []
        for path in paths:
            try:
                media.check_size(path.name, path.stat().st_size)  # before reading it whole
                media.add(conn, workspace_id, path.name, path.read_bytes())
            except MediaError as exc:
                refused.append(explain(exc))
            except OSError:
                refused.append(f"{path.name} could not be read.")
        return refused

    return change


class MediaLibrary(QDialog):
    """The library; with ``on_choose`` it also offers "Use this image"."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        parent: QWidget | None = None,
        on_choose: Chosen | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Media library")
        self.resize(760, 560)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.on_choose = on_choose
        self.images: list[MediaRow] = []
        self.confirm: QMessageBox | None = None
        self._latest = Latest()
        self._select: int | None = None

        self.grid = QListWidget()
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(media.THUMBNAIL[0], media.THUMBNAIL[1]))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setMovement(QListWidget.Movement.Static)
        self.grid.setSpacing(8)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.currentRowChanged.connect(self._selected)
        self.grid.itemDoubleClicked.connect(lambda _item: self.choose())
        self.upload_button = QPushButton("Upload…")
        self.upload_button.clicked.connect(self._pick_files)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(self.details.textInteractionFlags())
        self.alt = QLineEdit()
        self.alt.setPlaceholderText("Describe the image for people who cannot see it")
        self.save_alt = QPushButton("Save description")
        self.save_alt.clicked.connect(self.describe)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete)
        self.use_button = QPushButton("Use this image")
        self.use_button.setDefault(True)
        self.use_button.clicked.connect(self.choose)
        self.use_button.setVisible(on_choose is not None)
        self.storage_button = QPushButton("Where published…")
        self.storage_button.clicked.connect(self.open_storage)
        self.storage: MediaBucketDialog | None = None
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        self.message = QLabel("Loading…")
        self.message.setWordWrap(True)

        alt_row = QHBoxLayout()
        alt_row.addWidget(QLabel("Alt text"))
        alt_row.addWidget(self.alt, 1)
        alt_row.addWidget(self.save_alt)
        buttons = QHBoxLayout()
        buttons.addWidget(self.upload_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.storage_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.details)
        layout.addLayout(alt_row)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._selected(-1)
        self.refresh()

    def refresh(self) -> None:
        """Read the images again in the background."""
        ws = self.workspace_id
        self.runner.read(
            self.engine,
            "Reading the media library",
            lambda conn: media.list_images(conn, ws),
            self._latest.only(self._show),
            on_error=self._error,
        )

    def _show(self, images: list[MediaRow]) -> None:
        current = self.current()
        wanted = self._select if self._select is not None else (current.id if current else None)
        self._select = None
        self.images = images
        self.grid.clear()
        for image in images:
            pixmap = QPixmap()
            pixmap.loadFromData(image.thumbnail, "PNG")
            item = QListWidgetItem(QIcon(pixmap), image.name)
            item.setToolTip(image.alt or "No alt text yet")
            self.grid.addItem(item)
            if image.id == wanted:
                self.grid.setCurrentItem(item)
        if self.message.text() == "Loading…":
            self.message.setText("" if images else "No images yet: upload PNG, JPEG, GIF or WebP.")
        self._selected(self.grid.currentRow())

    def current(self) -> MediaRow | None:
        """The selected image."""
        row = self.grid.currentRow()
        return self.images[row] if 0 <= row < len(self.images) else None

    def _selected(self, _row: int) -> None:
        image = self.current()
        for widget in (self.alt, self.save_alt, self.delete_button, self.use_button):
            widget.setEnabled(image is not None)
        if image is None:
            self.details.setText("")
            self.alt.clear()
            return
        self.alt.setText(image.alt)
        kind = image.content_type.removeprefix("image/").upper()
        self.details.setText(
            f"<b>{escape(image.name)}</b> · {kind} · {image.width} by {image.height} px · "
            f"{_size(image.size)} · in HTML: "
            f"<code>{escape(_tag(image.id))}</code>"
        )

    def _pick_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Upload images", "", _FILES)
        if names:
            self.upload([Path(n) for n in names])

    def upload(self, paths: list[Path]) -> None:
        """Add the files (read and checked in the background), then say what happened."""
        self.message.setText(f"Adding {counted(len(paths), 'image')}…")

        def done(refused: list[str]) -> None:
            added = len(paths) - len(refused)
            said = [f"Added {counted(added, 'image')}."] if added else []
            self.message.setText(" ".join([*said, *(f"⚠ {r}" for r in refused)]))
            self.refresh()

        self.runner.write(
            self.engine, "Adding images", _upload(self.workspace_id, paths), done,
            on_error=self._error,
        )  # fmt: skip

    def describe(self) -> None:
        """Keep the alt text typed for the selected image."""
        image = self.current()
        if image is None:
            return
        ws, text = self.workspace_id, self.alt.text()
        self._select = image.id

        def done(_result: None) -> None:
            self.message.setText(f"Saved the description of {image.name}.")
            self.refresh()

        self.runner.write(
            self.engine, "Saving the description",
            lambda conn: media.set_alt(conn, ws, image.id, text), done, on_error=self._error,
        )  # fmt: skip

    def delete(self) -> None:
        """Ask, then delete the selected image (refused while a template shows it)."""
        image = self.current()
        if image is None:
            return
        ws = self.workspace_id

        def go() -> None:
            def done(_result: None) -> None:
                self.message.setText(f"Deleted {image.name}.")
                self.refresh()

            self.runner.write(
                self.engine, "Deleting an image",
                lambda conn: media.remove(conn, ws, image.id), done, on_error=self._error,
            )  # fmt: skip

        self.confirm = confirm.ask(
            self, "Delete image", f"Delete {image.name}?",
            "Mail already sent keeps showing it; templates can no longer use it.", "Delete", go,
        )  # fmt: skip

    def choose(self) -> None:
        """Hand the selected image to whoever opened the library to choose one, and close."""
        image = self.current()
        if image is None or self.on_choose is None:
            return
        self.on_choose(media.ref(image.id), image.alt)
        self.accept()

    def open_storage(self) -> None:
        """Open the setting of where images are published (the agents or a bucket)."""
        if self.storage is not None:
            self.storage.deleteLater()
        self.storage = MediaBucketDialog(self.engine, self.workspace_id, self.runner, self)
        self.storage.open()

    def _error(self, exc: Exception) -> None:
        self.message.setText(f"⚠ {explain(exc)}")


def _tag(image_id: int) -> str:
    return f'<img src="{media.ref(image_id)}" alt="…">'


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"

"""Choosing where the media library's images are published, from the library: a bucket whose
setting is checked, its keys put in the keyring (never the database), then the agents again."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import media_storage
from mailfleet.desktop.services.media_storage import Bucket
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.media_bucket_dialog import MediaBucketDialog
from mailfleet.desktop.ui.media_library import MediaLibrary
from mailfleet.desktop.ui.tasks import TaskRunner
from tests.desktop.keyring_backend import FileKeyring


def _dialog(library: MediaLibrary, qtbot: QtBot) -> MediaBucketDialog:
    library.storage_button.click()
    dialog = library.storage
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.message.text() == "")
    return dialog


def test_a_bucket_is_chosen_with_its_keys_in_the_keyring_then_the_agents_again(
    qtbot: QtBot, sqlite_engine: Engine, secure_keyring: FileKeyring, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    library = MediaLibrary(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(library)
    library.show()
    dialog = _dialog(library, qtbot)
    assert not dialog.use_bucket.isChecked() and not dialog.form.isEnabled()

    dialog.use_bucket.setChecked(True)
    dialog.bucket.setText("News_Media")
    dialog.public_url.setText("https://media.shop.example")
    dialog.endpoint.setText("https://s3.shop.example")
    dialog.region.setText("eu-west-1")
    dialog.key_id.setText("AKIDEXAMPLE")
    dialog.save_button.click()
    assert dialog.message.text() == "⚠ Type both the access key id and the secret key."
    dialog.secret.setText("s3cr3t-key")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("⚠"))
    assert dialog.message.text() == (
        "⚠ News_Media is not a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens."
    )
    dialog.bucket.setText("news-media")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.message.text() == "Images are published in news-media.")
    assert dialog.secret.text() == ""
    dialog.grab().save(str(artifacts / "media-bucket.png"))
    chosen = Bucket("news-media", "https://media.shop.example", "https://s3.shop.example",
                    "eu-west-1")  # fmt: skip
    with sqlite_engine.connect() as conn:
        assert media_storage.bucket(conn, ws) == chosen
    assert media_storage.with_keys(chosen, ws).secret_access_key == "s3cr3t-key"

    dialog = _dialog(library, qtbot)  # opened again: the setting, never the keys
    assert dialog.use_bucket.isChecked() and dialog.bucket.text() == "news-media"
    assert dialog.secret.text() == "" and dialog.key_id.text() == ""
    dialog.use_bucket.setChecked(False)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.message.text() == "Images are published on the agents.")
    with sqlite_engine.connect() as conn:
        assert media_storage.bucket(conn, ws) is None
    library.runner.wait()

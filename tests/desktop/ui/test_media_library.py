"""The media library as a marketer uses it from the Templates page: images uploaded from files
(a document renamed .png refused in words), described, chosen for an image block (its alt text
coming along), shown in the saved template as a library reference, and not deletable while a
template shows them."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import media, templates
from mailfleet.desktop.services.blocks import model as m
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.media_library import MediaLibrary
from mailfleet.desktop.ui.qt import QLineEdit, QPushButton, QWidget
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from tests.desktop.fleetkit import answer
from tests.desktop.media_images import picture


def _button(widget: QWidget, text: str) -> QPushButton:
    return next(b for b in widget.findChildren(QPushButton) if b.text() == text)


def _library(page: TemplatesPage) -> MediaLibrary:
    assert page.library is not None and page.library.isVisible()
    return page.library


def test_an_image_is_uploaded_described_chosen_for_a_block_and_kept_while_used(
    qtbot: QtBot, sqlite_engine: Engine, artifacts: Path, tmp_path: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    (tmp_path / "spring.png").write_bytes(picture(size=(600, 300)))
    (tmp_path / "shop.jpg").write_bytes(picture("JPEG", (400, 400), "#16a34a"))
    (tmp_path / "invoice.png").write_bytes(b"%PDF-1.7 an invoice, renamed")
    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1400, 820)
    page.show()
    page.new()
    page.editor.setCurrentIndex(page.editor.findData("blocks"))
    page.name.setText("Spring")
    page.subject.setText("Spring is here")
    page.blocks.add_block(m.Heading(text="Spring is here"))
    page.blocks.add_block(m.Image(src="", alt=""))
    page.blocks.add_block(m.Footer())
    page.blocks.list.setCurrentRow(4)
    qtbot.waitUntil(lambda: "src" in page.blocks.properties.inputs)

    # From the image block's address: the library, to choose a picture.
    _button(page.blocks.properties, "Library…").click()
    library = _library(page)
    qtbot.waitUntil(lambda: library.message.text().startswith("No images yet"))
    library.upload([tmp_path / "spring.png", tmp_path / "invoice.png", tmp_path / "shop.jpg"])
    qtbot.waitUntil(lambda: library.grid.count() == 2, timeout=10_000)
    assert library.message.text() == (
        "Added 2 images. ⚠ invoice.png is not an image: only PNG, JPEG, GIF and WebP pictures "
        "can be added."
    )
    assert [library.grid.item(r).text() for r in range(2)] == ["shop.jpg", "spring.png"]

    library.grid.setCurrentRow(1)
    assert "600 by 300 px" in library.details.text()
    library.alt.setText("A field of tulips")
    library.save_alt.click()
    qtbot.waitUntil(lambda: library.message.text() == "Saved the description of spring.png.")
    qtbot.waitUntil(lambda: library.grid.item(1).toolTip() == "A field of tulips")
    library.grid.setCurrentRow(1)
    library.grab().save(str(artifacts / "media-library.png"))
    library.use_button.click()
    assert not library.isVisible()

    with sqlite_engine.connect() as conn:
        spring = next(i for i in media.list_images(conn, ws) if i.name == "spring.png")
    src, alt = page.blocks.properties.inputs["src"], page.blocks.properties.inputs["alt"]
    address = src.findChild(QLineEdit)
    assert isinstance(alt, QLineEdit) and isinstance(address, QLineEdit)
    assert address.text() == media.ref(spring.id)
    assert alt.text() == "A field of tulips"  # the description kept with the image came along
    # The preview and its checks see the chosen image (its local copy), with its alt text.
    qtbot.waitUntil(lambda: "no alt text" not in page.checks.text(), timeout=10_000)
    qtbot.waitUntil(lambda: "Spring is here" in page.preview_html.toPlainText(), timeout=10_000)
    page.grab().save(str(artifacts / "templates-media-image.png"))
    page.save()
    qtbot.waitUntil(lambda: page.message.text() == "Saved.", timeout=10_000)
    with sqlite_engine.connect() as conn:
        [saved] = templates.list_templates(conn, ws)
    assert f'src="{media.ref(spring.id)}"' in saved.html and 'alt="A field of tulips"' in saved.html

    # From the page's own button: the library to manage; what Spring shows cannot go.
    _button(page, "Media library…").click()
    library = _library(page)
    qtbot.waitUntil(lambda: library.grid.count() == 2)
    assert not library.use_button.isVisible()
    library.grid.setCurrentRow(1)
    library.delete_button.click()
    answer(library.confirm, "Delete")
    qtbot.waitUntil(lambda: library.message.text().startswith("⚠"))
    assert library.message.text() == (
        "⚠ This image is still used by a template: Spring. Remove it from them first."
    )
    library.grid.setCurrentRow(0)
    library.delete_button.click()
    answer(library.confirm, "Delete")
    qtbot.waitUntil(lambda: library.grid.count() == 1)
    assert library.message.text() == "Deleted shop.jpg."
    library.reject()
    page.runner.wait()

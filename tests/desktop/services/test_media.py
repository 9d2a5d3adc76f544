"""The media library on a real database (SQLite and PostgreSQL): what it takes, judged by the
bytes; thumbnails and alt text kept with the image; deleting what a template shows refused;
references rewritten for the send and the preview."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from sqlalchemy import Engine

from mailfleet.desktop.services import media, templates
from mailfleet.desktop.services.media import MediaError
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.desktop.media_images import picture


def test_an_upload_is_kept_with_its_thumbnail_size_and_alt_text(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        first = media.add(conn, workspace, "hero.png", picture(), alt="Spring sale")
        again = media.add(conn, workspace, "copy of hero.png", picture())
        jpeg = media.add(conn, workspace, "photo.jpeg", picture("JPEG", (300, 600)))
        media.set_alt(conn, workspace, jpeg, "  Our shop at night ")
        listed = media.list_images(conn, workspace)
    assert again == first  # the same bytes are the same image
    assert [(r.id, r.name, r.content_type, r.width, r.height, r.alt) for r in listed] == [
        (jpeg, "photo.jpeg", "image/jpeg", 300, 600, "Our shop at night"),
        (first, "hero.png", "image/png", 640, 320, "Spring sale"),
    ]
    with Image.open(io.BytesIO(listed[0].thumbnail)) as thumb:
        assert thumb.format == "PNG" and thumb.size == (80, 160)  # fits 160 x 160, same shape


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "logo.png",
            b"%PDF-1.7 a document renamed to look like a picture",
            "logo.png is not an image: only PNG, JPEG, GIF and WebP pictures can be added.",
        ),
        (
            "old.png",
            picture("BMP"),
            "old.png is not an image: only PNG, JPEG, GIF and WebP pictures can be added.",
        ),
        (
            "cut.png",
            picture()[:200],
            "cut.png is not an image: only PNG, JPEG, GIF and WebP pictures can be added.",
        ),
        (
            "huge.png",
            b"\x89PNG" + b"\x00" * (6 * 1024 * 1024),
            "huge.png is 6.0 MB; images can be at most 5 MB.",
        ),
    ],
    ids=["renamed-document", "bmp", "truncated", "too-large"],
)
def test_what_is_not_a_small_image_is_refused_in_words(
    sqlite_engine: Engine, name: str, content: bytes, message: str
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        with pytest.raises(MediaError) as refused:
            media.add(conn, ws, name, content)
        assert str(refused.value) == message
        assert media.list_images(conn, ws) == []


def test_an_image_a_template_shows_cannot_be_deleted(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        shown = media.add(conn, workspace, "a.png", picture())
        other = media.add(conn, workspace, "b.png", picture(colour="#dc2626"))
        for name in ("Welcome", "Newsletter"):
            templates.save(
                conn, workspace, name, "Hi", f'<img src="{media.ref(shown)}" alt="a">', ""
            )
        with pytest.raises(MediaError) as refused:
            media.remove(conn, workspace, shown)
        assert str(refused.value) == (
            "This image is still used by 2 templates: Newsletter, Welcome. "
            "Remove it from them first."
        )
        assert media.users(conn, workspace, other) == []  # media:1 is not media:12
        media.remove(conn, workspace, other)
        assert [r.id for r in media.list_images(conn, workspace)] == [shown]


def test_references_become_public_urls_at_send_and_local_copies_in_the_preview(
    sqlite_engine: Engine,
) -> None:
    content = picture()
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        image = media.add(conn, ws, "a.png", content)
        html = (
            f'<img src="{media.ref(image)}"><td style="background:url({media.ref(image)})">'
            f"<p>Our media:{image} mentions stay text</p>"
        )
        assert media.referenced(html) == {image}
        assert media.rewrite(html, {image: "https://cdn.example/x.png"}) == (
            '<img src="https://cdn.example/x.png"><td style="background:url('
            f'https://cdn.example/x.png)"><p>Our media:{image} mentions stay text</p>'
        )
        local = media.local_html(conn, ws, html)
    data_url = "data:image/png;base64," + base64.b64encode(content).decode()
    assert local.count(data_url) == 2


def test_the_preview_shows_a_big_image_as_a_small_copy(sqlite_engine: Engine) -> None:
    noisy = Image.effect_noise((1800, 400), 90).convert("RGB")  # noise: it stays big as a PNG
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > media.PREVIEW_BYTES
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        image = media.add(conn, ws, "noise.png", out.getvalue())
        local = media.local_html(conn, ws, f'<img src="{media.ref(image)}">')
    prefix = '<img src="data:image/jpeg;base64,'
    assert local.startswith(prefix)
    copy = base64.b64decode(local[len(prefix) : -2])
    with Image.open(io.BytesIO(copy)) as shown:
        assert shown.size == (1200, 267)
    assert len(copy) < len(out.getvalue())

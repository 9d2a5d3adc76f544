"""The workspace's media library: images uploaded once, used by templates as ``media:<id>``.

An upload is read by Pillow, never judged by its name: only a PNG, JPEG, GIF or WebP picture
that decodes is kept, at most 5 MB (what the agents accept) and 40 megapixels (a "decompression
bomb" of a few KB could otherwise claim gigabytes once decoded). Its bytes, a thumbnail for the
library's grid and its alt text live in the database with the rest of the workspace.

A template shows a library image with ``src="media:<id>"``. The preview puts the local copy in
its place (:func:`local_html`, a smaller copy of a big image); the send puts the image's public
URL there (:func:`rewrite`, from :mod:`mailfleet.desktop.agents.media_publish`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, UnidentifiedImageError
from sqlalchemy import Connection, delete, insert, or_, select, update

from mailfleet.desktop.db.models import MediaImage, Template

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMBNAIL = (160, 160)
# Bigger images are shown in the preview as a smaller copy (a data URL costs 4/3 of the bytes).
PREVIEW_BYTES = 256 * 1024
PREVIEW_WIDTH = 1200
_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# A published image's name ends with its type's extension, as the agents name theirs.
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
# A reference inside an attribute or a CSS url(): quoted or in parentheses, never loose text.
_REF = re.compile(r"""(?<=["'(])media:(\d+)(?=["')])""")


class MediaError(ValueError):
    """An upload or a change the library refuses; the message says why, for the marketer."""


@dataclass(frozen=True)
class MediaRow:
    """A library image without its bytes: what the library's grid shows."""

    id: int
    name: str
    content_type: str
    size: int
    width: int
    height: int
    alt: str
    thumbnail: bytes
    created_at: datetime


@dataclass(frozen=True)
class Picture:
    """What Pillow read from an upload."""

    content_type: str
    width: int
    height: int


def ref(image_id: int) -> str:
    """What a template writes as an image's address to show library image ``image_id``."""
    return f"media:{image_id}"


def referenced(html: str) -> set[int]:
    """The library images ``html`` refers to."""
    return {int(m) for m in _REF.findall(html)}


def rewrite(html: str, urls: Mapping[int, str]) -> str:
    """``html`` with each library reference replaced by its address in ``urls``."""
    return _REF.sub(lambda m: urls[int(m.group(1))], html)


def inspect(name: str, content: bytes) -> Picture:
    """What ``content`` is, or :class:`MediaError` saying why it cannot be a library image."""
    check_size(name, len(content))
    not_image = MediaError(
        f"{name} is not an image: only PNG, JPEG, GIF and WebP pictures can be added."
    )
    try:
        with Image.open(io.BytesIO(content)) as picture:
            kind = _TYPES.get(picture.format or "")
            if kind is None:
                raise not_image
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise MediaError(
                    f"{name} is {width} by {height} pixels; make it smaller than 40 megapixels."
                )
            picture.verify()  # reads the whole file: a truncated or corrupt one fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise not_image from None
    return Picture(kind, width, height)


def check_size(name: str, size: int) -> None:
    """:class:`MediaError` when a file of ``size`` bytes is too big for the library."""
    if size > MAX_BYTES:
        raise MediaError(f"{name} is {size / (1024 * 1024):.1f} MB; images can be at most 5 MB.")


def _thumbnail(content: bytes) -> bytes:
    with Image.open(io.BytesIO(content)) as picture:
        picture.seek(0)  # an animated GIF's first frame
        small = picture.convert("RGBA")
        small.thumbnail(THUMBNAIL)
        out = io.BytesIO()
        small.save(out, "PNG")
    return out.getvalue()


def add(conn: Connection, workspace_id: int, name: str, content: bytes, alt: str = "") -> int:
    """Keep an uploaded image; returns its id (the same image uploaded again keeps its id and
    its alt text). :class:`MediaError` when it is not an image the library takes."""
    picture = inspect(name, content)
    sha256 = hashlib.sha256(content).hexdigest()
    known = conn.scalar(
        select(MediaImage.id).where(
            MediaImage.workspace_id == workspace_id, MediaImage.sha256 == sha256
        )
    )
    if known is not None:
        return int(known)
    return int(
        conn.execute(
            insert(MediaImage)
            .values(
                workspace_id=workspace_id,
                name=name[:255],
                sha256=sha256,
                content_type=picture.content_type,
                size=len(content),
                width=picture.width,
                height=picture.height,
                alt=alt.strip()[:500],
                content=content,
                thumbnail=_thumbnail(content),
            )
            .returning(MediaImage.id)
        ).scalar_one()
    )


def list_images(conn: Connection, workspace_id: int) -> list[MediaRow]:
    """The workspace's images, newest first, without their bytes."""
    rows = conn.execute(
        select(
            MediaImage.id,
            MediaImage.name,
            MediaImage.content_type,
            MediaImage.size,
            MediaImage.width,
            MediaImage.height,
            MediaImage.alt,
            MediaImage.thumbnail,
            MediaImage.created_at,
        )
        .where(MediaImage.workspace_id == workspace_id)
        .order_by(MediaImage.id.desc())
    )
    return [MediaRow(*row) for row in rows]


@dataclass(frozen=True)
class Stored:
    """A library image's bytes and what names them."""

    id: int
    sha256: str
    content_type: str
    content: bytes


def stored(conn: Connection, workspace_id: int, ids: set[int]) -> dict[int, Stored]:
    """The workspace's images among ``ids``, with their bytes; ids it has not are left out."""
    if not ids:
        return {}
    rows = conn.execute(
        select(MediaImage.id, MediaImage.sha256, MediaImage.content_type, MediaImage.content)
        .where(MediaImage.workspace_id == workspace_id, MediaImage.id.in_(sorted(ids)))
    )
    return {row[0]: Stored(*row) for row in rows}


def set_alt(conn: Connection, workspace_id: int, image_id: int, alt: str) -> None:
    """Keep ``alt`` as the image's description for people who cannot see it."""
    conn.execute(
        update(MediaImage)
        .where(MediaImage.workspace_id == workspace_id, MediaImage.id == image_id)
        .values(alt=alt.strip()[:500])
    )


def users(conn: Connection, workspace_id: int, image_id: int) -> list[str]:
    """The names of the templates that show the image, by name."""
    needle = f"%{ref(image_id)}%"
    rows = conn.execute(
        select(Template.name, Template.html, Template.source)
        .where(
            Template.workspace_id == workspace_id,
            or_(Template.html.like(needle), Template.source.like(needle)),
        )
        .order_by(Template.name)
    )
    # LIKE also finds media:12 when asked for media:1: keep the exact references only.
    return [name for name, html, source in rows if image_id in referenced(html + source)]


def remove(conn: Connection, workspace_id: int, image_id: int) -> None:
    """Delete an image no template shows; :class:`MediaError` names the templates that do."""
    using = users(conn, workspace_id, image_id)
    if using:
        listed = ", ".join(using)
        raise MediaError(
            f"This image is still used by {_templates(len(using))}: {listed}. "
            "Remove it from them first."
        )
    conn.execute(
        delete(MediaImage).where(
            MediaImage.workspace_id == workspace_id, MediaImage.id == image_id
        )
    )


def _templates(count: int) -> str:
    return "a template" if count == 1 else f"{count} templates"


def local_html(conn: Connection, workspace_id: int, html: str) -> str:
    """``html`` for the preview: each library image shown from its local copy (a data URL),
    and a reference to an image no longer in the library left as it is, so it shows broken."""
    found = stored(conn, workspace_id, referenced(html))
    return _REF.sub(
        lambda m: _data_url(found[int(m.group(1))]) if int(m.group(1)) in found else m.group(0),
        html,
    )


def _data_url(image: Stored) -> str:
    if len(image.content) <= PREVIEW_BYTES:
        return f"data:{image.content_type};base64,{base64.b64encode(image.content).decode()}"
    return f"data:image/jpeg;base64,{base64.b64encode(_preview_copy(image.content)).decode()}"


@functools.lru_cache(maxsize=16)
def _preview_copy(content: bytes) -> bytes:
    """A big image made small enough for the preview (which takes at most 2 MB of HTML in
    all): at most the widest a message is shown, as a JPEG."""
    with Image.open(io.BytesIO(content)) as picture:
        picture.seek(0)
        small = picture.convert("RGB")
        small.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH * 4))
        out = io.BytesIO()
        small.save(out, "JPEG", quality=80)
    return out.getvalue()
